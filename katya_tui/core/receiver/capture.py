"""Request → Capture: the body read with a limit, an idle timeout and a total deadline, headers as received, SHA-256, remote address."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from ..models import Capture, encode_body, new_id
from .aiohttp_shim import buffered_after_failure

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
"""Headers that describe one connection, not the message: never forwarded or replayed (Content-Length is recomputed)."""


@dataclass
class Body:
    data: bytes  # what is kept (at most the limit)
    size: int  # bytes received, or the Content-Length claimed when the body was cut
    truncated: bool
    problem: str | None = None  # "too_large" | "timeout" | "incomplete"; None when the whole body arrived
    detail: str = ""


def header_text(raw: bytes) -> str:
    """Header bytes as text: UTF-8 when they are, else Latin-1 (every byte kept, one character each)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def raw_headers(raw: Iterable[tuple[bytes, bytes]]) -> list[list[str]]:
    """`[[name, value], ...]` in received order, repeats kept, names as the sender spelt them."""
    try:
        return [[k.decode(), v.decode()] for k, v in raw]  # UTF-8 (all ASCII, nearly always)
    except UnicodeDecodeError:
        return [[header_text(k), header_text(v)] for k, v in raw]


class BodyReader:
    """One request body as it arrives, against the limit. Every transport feeds its chunks here and asks for the
    `Body`: whole, cut at the limit, given up on after a silence, or broken off (every byte that came is kept)."""

    __slots__ = ("limit", "claimed", "chunks", "got")

    def __init__(self, limit: int, claimed: int | None) -> None:
        self.limit = limit
        self.claimed = claimed  # the Content-Length announced, if any
        self.chunks: list[bytes] = []
        self.got = 0

    def data(self) -> bytes:
        return self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)

    def add(self, chunk: bytes) -> Body | None:
        """Take a chunk; past the limit, the body cut there (the rest is not worth reading)."""
        self.chunks.append(chunk)
        self.got += len(chunk)
        return None if self.got <= self.limit else self.too_large()

    def too_large(self) -> Body:
        """The body cut at the limit (or refused before it came, when Content-Length announced too much)."""
        size = max(self.got, self.claimed or 0)
        more = "at least " if self.claimed is None else ""
        detail = f"body of {more}{size} bytes is over the {self.limit} byte limit"
        return Body(self.data()[: self.limit], size, True, "too_large", detail)

    def whole(self) -> Body:
        """The body at its end: whole, unless fewer bytes came than Content-Length announced."""
        data = self.data()
        if self.claimed is not None and self.got < self.claimed:
            detail = f"Content-Length said {self.claimed} bytes, {self.got} arrived"
            return Body(data, self.got, True, "incomplete", detail)
        return Body(data, self.got, False)

    def timed_out(self, idle_s: float) -> Body:
        return self._late(f"no body bytes for {idle_s:g} s after {self.got} bytes")

    def overdue(self, total_s: float) -> Body:
        """A sender that trickles (never silent for the idle timeout) still has `total_s` for the whole body."""
        return self._late(f"body not complete {total_s:g} s after the request head ({self.got} bytes came)")

    def _late(self, detail: str) -> Body:
        return Body(self.data(), self.got, True, "timeout", detail)

    def broken(self, why: object, *, lost: bool) -> Body:
        """The connection ended (`lost`) or the bytes stopped being HTTP mid-body: what came is kept."""
        data = self.data()[: self.limit]
        said = f" (Content-Length said {self.claimed})" if self.claimed is not None else ""
        what = "the connection ended mid-body" if lost else "the body could not be read"
        return Body(data, len(data), True, "incomplete", f"{what} after {len(data)} bytes{said}: {why}")


async def read_body(request: web.BaseRequest, limit: int, idle_timeout: float, total_timeout: float) -> Body:
    """Read `request`'s body through a `BodyReader`; a sender silent for `idle_timeout` between chunks, or not
    done `total_timeout` after the head, keeps what came."""
    reader = BodyReader(limit, request.content_length)
    stream = request.content
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total_timeout
    overdue = False  # whether the wait under way ends at the total deadline rather than the idle one
    try:
        while True:
            chunk = stream.read_nowait()  # what is buffered already: most bodies, with no timer to set up
            if not chunk:
                if stream.at_eof():
                    break
                idle_end = loop.time() + idle_timeout
                overdue = deadline <= idle_end
                async with asyncio.timeout_at(min(idle_end, deadline)):  # (wait_for: a task per read)
                    chunk = await stream.readany()
                if not chunk:
                    break
            if (cut := reader.add(chunk)) is not None:
                return cut
            if reader.claimed is not None and reader.got >= reader.claimed:
                break  # all that was announced: do not wait on a connection the sender may half-close
    except TimeoutError:
        return reader.overdue(total_timeout) if overdue else reader.timed_out(idle_timeout)
    except (
        Exception
    ) as exc:  # connection lost, bad chunking, a lying Content-Length: keep every byte that came
        reader.chunks.append(buffered_after_failure(stream))
        return reader.broken(exc, lost=isinstance(exc, ConnectionError))
    return reader.whole()


def new_capture(
    method: str,
    target: str,
    headers: list[list[str]],
    remote: str | None,
    endpoint: str,
    body: Body,
    received_at: float | None = None,
) -> Capture:
    """The capture of a request: `target` as sent (the query kept encoded, to forward it unchanged)."""
    text, encoding = encode_body(body.data)
    path, _, query = target.partition("?")
    return Capture(
        id=new_id("cap"),
        endpoint=endpoint,
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=text,
        body_encoding=encoding,
        body_size=body.size,
        body_sha256=hashlib.sha256(body.data).hexdigest(),
        truncated=body.truncated,
        remote=remote,
        received_at=received_at if received_at is not None else time.time(),
    )


def summary(doc: dict) -> dict:
    """A capture document without its body (for the bus, lists and the UI's rows)."""
    out = dict(doc)
    out.pop("body", None)
    return out
