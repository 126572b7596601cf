"""HTTP/1.1 keep-alive load generator, run as its own process by the receiver benchmark.

`python -m bench._load PORT PATH CONNECTIONS WARMUP_S ROUND_S ROUNDS PID`: CONNECTIONS connections, each sending
one signed ~1 KB POST, reading the answer, sending the next (closed loop, like `wrk -c`). After WARMUP_S of warm-up
it runs ROUNDS rounds of ROUND_S seconds and prints one JSON line a round: `{"ok", "other", "rps", "cpu_us"}`, where
`cpu_us` is the server's CPU time (process PID and its children: user + system, all threads) per answer in that round.
`BENCH_BODY_BYTES` in the environment sets the size of the envelope's content (default ~800 bytes), and
`BENCH_COUNT` makes it stop once that many answers came (the rounds then end early).

The generator is built on `asyncio.Protocol` (no streams, no tasks per request), runs on uvloop where it is
installed, and parses only the status line and Content-Length, so that it costs a fraction of what the servers
under test cost per request (on two cores it shares the machine with them, as `wrk` would).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import time
from pathlib import Path

SECRET = "bench-endpoint-secret"
PREPARED_PER_S = (
    25_000  # requests signed ahead for each second of load (more than a bare aiohttp server answers)
)


class Requests:
    """Signed ~1 KB Katya envelopes, each with its own event id and delivery id.

    Every request is new to the receiver (no duplicate shortcut): it is verified, captured, published as an event
    and fanned out, as in real use. They are signed before the clock starts (`prepare`), so that the generator
    spends almost nothing a request while it is measured, as `wrk` would; past the prepared ones, each is signed
    as it is sent.
    """

    def __init__(self, path: str, port: int, content: int = 800) -> None:
        from katya_tui.core.catalog import envelope
        from katya_tui.core.signing import sign

        self._sign = sign
        self._ts = int(time.time())
        self._run = os.getpid()
        data = {"messageId": "msg_1", "roomId": "room_1", "content": "x" * content}
        body = json.dumps(envelope("message.created", data, event_id="EVENT_ID"), separators=(",", ":"))
        self._pre, self._post = (part.encode() for part in body.split("EVENT_ID"))
        self._head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        self._ready: collections.deque[bytes] = collections.deque()
        self._i = 0

    def restamp(self) -> None:
        """Sign from now on with the current time: a run longer than the receiver's tolerance (300 s) would
        otherwise send stale signatures, which an endpoint with secrets does not publish."""
        self._ts = int(time.time())

    def prepare(self, count: int) -> None:
        self._ready = collections.deque(self.make(i) for i in range(count))
        self._i = count

    def next(self) -> bytes:
        if self._ready:
            return self._ready.popleft()
        self._i += 1
        return self.make(self._i)

    def make(self, i: int) -> bytes:
        body = self._pre + f"evt_{self._run}_{i}".encode() + self._post
        signed = self._sign("katya", body, SECRET, timestamp=self._ts, msg_id=f"dlv_{self._run}_{i}")
        head = (
            self._head
            + f"Content-Length: {len(body)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in signed.headers)
        )
        return head.encode() + b"\r\n" + body


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def family(pid: int) -> list[int]:
    """`pid` and its child processes (a server and whatever it starts)."""
    kids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int(_stat(int(p.name))[1]) == pid:
                    kids.append(int(p.name))
            except (OSError, ValueError, IndexError):
                continue
    return [pid, *kids]


def cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) of a process and its children so far; None without /proc."""
    try:
        total = 0
        for p in family(pid):
            fields = _stat(p)
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class Counted(list):
    """[2xx, other] that ends the run (`lost` set to None) once `limit` answers came."""

    def __init__(self, limit: int, lost: asyncio.Future) -> None:
        super().__init__([0, 0])
        self.limit = limit
        self.lost = lost

    def __setitem__(self, i: int, value: int) -> None:
        super().__setitem__(i, value)
        if self[0] + self[1] >= self.limit and not self.lost.done():
            self.lost.set_result(None)


class Client(asyncio.Protocol):
    def __init__(self, reqs: Requests, counts: list[int], lost: asyncio.Future) -> None:
        self.reqs = reqs
        self.counts = counts  # [2xx, other]
        self.buf = b""
        self.need = -1  # bytes of the current answer, once its head is read
        self.status = 0
        self.lost = lost
        self.running = True
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.send()

    def send(self) -> None:
        self.transport.write(self.reqs.next())

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        while True:
            if self.need < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[:end]
                self.status = int(head[9:12])
                length = 0
                k = head.lower().find(b"\r\ncontent-length:")
                if k >= 0:
                    stop = head.find(b"\r\n", k + 2)
                    length = int(head[k + 17 : stop if stop >= 0 else len(head)])
                self.need = end + 4 + length
            if len(buf) < self.need:
                break
            buf = buf[self.need :]
            self.need = -1
            self.counts[0 if 200 <= self.status < 300 else 1] += 1
            if self.running and not self.lost.done():
                self.send()
        self.buf = buf

    def connection_lost(self, exc: Exception | None) -> None:
        if self.running and not self.lost.done():
            self.lost.set_exception(ConnectionError(f"the server closed a connection: {exc}"))


async def run(port: int, path: str, conns: int, warmup: float, seconds: float, rounds: int, pid: int) -> None:
    loop = asyncio.get_running_loop()
    content = int(os.environ.get("BENCH_BODY_BYTES") or 800)
    limit = int(os.environ.get("BENCH_COUNT") or 0)
    reqs = Requests(path, port, content)
    wanted = int(PREPARED_PER_S * (warmup + seconds * rounds))
    reqs.prepare(
        min(wanted, limit or wanted, 200_000_000 // (content + 600))
    )  # (at most ~200 MB signed ahead)
    counts = [0, 0]
    lost: asyncio.Future = loop.create_future()
    if limit:
        counts = Counted(limit, lost)
    clients = []
    for _ in range(conns):
        _, c = await loop.create_connection(lambda: Client(reqs, counts, lost), "127.0.0.1", port)
        clients.append(c)

    async def window(s: float) -> None:
        done, _ = await asyncio.wait([lost], timeout=s)
        if done:
            lost.result()

    await window(warmup)
    for _ in range(rounds):
        ok0, other0, cpu0, t0 = counts[0], counts[1], cpu_s(pid), time.perf_counter()
        await window(seconds)
        ok, other, cpu1, took = counts[0] - ok0, counts[1] - other0, cpu_s(pid), time.perf_counter() - t0
        cpu_us = (
            (cpu1 - cpu0) / (ok + other) * 1e6
            if cpu0 is not None and cpu1 is not None and ok + other
            else None
        )
        print(
            json.dumps({"ok": ok, "other": other, "rps": (ok + other) / took, "cpu_us": cpu_us}), flush=True
        )
    for c in clients:
        c.running = False
        c.transport.close()


if __name__ == "__main__":
    a = sys.argv[1:]
    coro = run(int(a[0]), a[1], int(a[2]), float(a[3]), float(a[4]), int(a[5]), int(a[6]))
    try:
        import uvloop  # the lighter loop: the generator's CPU time is taken from the machine the servers share
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)
