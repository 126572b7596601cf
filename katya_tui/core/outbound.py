"""Outbound HTTP for deliveries, forwards and replays: `Outbound.send` never raises.

An `Outbound` owns what it sends with: a keep-alive pool for plain `http://` (`http1.py`), because aiohttp's
client costs more CPU a request than the dispatcher's own work, and an aiohttp session for the rest (HTTPS, user
info in the URL, HEAD). Both send headers exactly as given (order, case, repeats), never follow redirects, and
keep the first 64 KB of the answer (raw, not decompressed). A slot count in front of both makes a request that
finds no free connection within `pool_timeout` come back `sent=False` (not an attempt) instead of waiting for
ever. Network failures become an `OutboundResult` with an error class.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict

from .http1 import Answer, Pool, target

BODY_CAP = 64 * 1024
BASE64_MARK = "base64:"
ORIGIN_HEADER = "X-Katya-Origin"
# Idle connections are let go after 4 s: Node's and uvicorn's servers close theirs at 5 s, and a request sent on
# a connection in the moment the server closes it comes back "reset" (a POST is not retried).
KEEPALIVE_S = 4.0
# Recomputed from the body and the URL; passing the originals on would break the request.
_DROPPED = frozenset({"content-length", "transfer-encoding", "host", "connection", "keep-alive"})
_NO_AUTO = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})


@dataclass
class OutboundResult:
    """What one request got: a status (None when no answer), or an error class and reason."""

    status: int | None
    headers: list[list[str]] = field(default_factory=list)
    body: str = ""  # first 64 KB: text when UTF-8, else "base64:<...>"
    latency_ms: float = 0.0
    error_class: str | None = None  # refused | dns | tls | timeout | reset | protocol
    reason: str = ""
    sent: bool = True  # False: no pool slot was free in time; the request never left (not an attempt)
    truncated: bool = False  # the response body was longer than 64 KB

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Outbound:
    """At most `max_connections` requests in flight (the rest wait up to `pool_timeout` s for a slot, then are
    reported not sent); no redirects, no cookies, no proxies from the environment.

    `origin` (the sending instance's id) goes out as `X-Katya-Origin` on every request, so a request that comes
    back to the same instance's /hooks is recognised and not published again: no delivery or forward loops.
    `http1=False` sends everything through aiohttp (the tests and the benchmark compare the two paths)."""

    def __init__(
        self,
        max_connections: int = 100,
        pool_timeout: float | None = 30.0,
        origin: str | None = None,
        *,
        http1: bool = True,
    ) -> None:
        self.max_connections, self.pool_timeout, self.origin = max_connections, pool_timeout, origin
        self.slots = asyncio.Semaphore(max_connections)
        self.pool = Pool(max_connections, KEEPALIVE_S) if http1 else None
        self.session: aiohttp.ClientSession | None = None  # made on first use, inside the event loop

    async def aclose(self) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def send(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]] | list[list[str]],
        body: bytes,
        timeout: float,
    ) -> OutboundResult:
        """Send one request with an overall deadline of `timeout` s; never raises for network errors.

        Content-Length, Transfer-Encoding and Host are recomputed from the body and the URL. Redirects are not
        followed (a 3xx is returned as is)."""
        try:
            if not self.slots.locked():
                await self.slots.acquire()  # a free slot: no wait, no timer
            else:
                async with asyncio.timeout(self.pool_timeout):
                    await self.slots.acquire()
        except TimeoutError:
            return OutboundResult(None, sent=False, reason="no free connection in the pool: not sent")
        out = _clean(headers)
        if self.origin:
            out.append((ORIGIN_HEADER, self.origin))
        method = method.upper()  # as aiohttp sends it
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                # (httptools cannot be told that the answer to a HEAD request has no body: aiohttp's parser can)
                pool = self.pool if method != "HEAD" else None
                where = target(url) if pool is not None else None
                if pool is not None and where is not None:
                    result = _result(await pool.request(method, where, out, body, BODY_CAP))
                else:
                    result = await self._via_aiohttp(method, url, out, body)
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
            return OutboundResult(
                None, latency_ms=_ms(started), error_class="protocol", reason=f"bad URL: {exc}"
            )
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            error_class, reason = classify(exc, url)
            if error_class == "timeout":
                reason = f"{_target(url)} gave no complete answer within {timeout:g} s (the request timeout)"
            return OutboundResult(None, latency_ms=_ms(started), error_class=error_class, reason=reason)
        finally:
            self.slots.release()
        result.latency_ms = _ms(started)
        return result

    async def _via_aiohttp(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> OutboundResult:
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections, keepalive_timeout=KEEPALIVE_S),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                skip_auto_headers=_NO_AUTO,
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None),  # `send` bounds the whole exchange
            )
        async with self.session.request(
            method, url, data=body or None, headers=CIMultiDict(headers), allow_redirects=False
        ) as response:
            data = bytearray()
            async for chunk in response.content.iter_any():
                data += chunk
                if len(data) > BODY_CAP:
                    break
            return _result(
                Answer(
                    response.status,
                    response.reason or "",
                    [[k.decode("latin-1"), v.decode("latin-1")] for k, v in response.raw_headers],
                    bytes(data[:BODY_CAP]),
                    len(data) > BODY_CAP,
                )
            )


def _result(answer: Answer) -> OutboundResult:
    return OutboundResult(
        status=answer.status,
        headers=answer.headers,
        body=body_text(answer.body),
        reason=f"{answer.status} {answer.reason}".strip(),
        truncated=answer.truncated,
    )


def _clean(headers: list[tuple[str, str]] | list[list[str]]) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in headers if str(k).lower() not in _DROPPED]


def body_text(data: bytes) -> str:
    """UTF-8 text as is, anything else as `base64:` + base64 (a cut in the middle of a character stays text)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8")
        return BASE64_MARK + base64.b64encode(data).decode("ascii")


_EXPLAIN = {
    "refused": "connection refused by {target}: nothing is listening there (is the service running, on this port?)",
    "dns": "the host of {target} could not be resolved (DNS): check the URL's host name",
    "tls": "the TLS handshake with {target} failed (certificate or protocol): use http:// for a local service",
    "reset": "{target} closed the connection before answering",
    "timeout": "{target} did not answer in time",
}
_RULES: list[tuple[str, type[BaseException] | tuple[type[BaseException], ...]]] = [
    ("dns", (aiohttp.ClientConnectorDNSError, socket.gaierror)),
    ("tls", (aiohttp.ClientSSLError, ssl.SSLError)),
    ("refused", ConnectionRefusedError),
    ("reset", (ConnectionResetError, BrokenPipeError, aiohttp.ServerDisconnectedError)),
    ("timeout", TimeoutError),
]


def classify(exc: BaseException, url: str | None = None) -> tuple[str, str]:
    """(error class, one-line reason a person can act on) for a failed request, looking through its causes.

    The reason says what happened in plain words, then the low-level error in brackets."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    detail = next((f"{type(e).__name__}: {e}" for e in chain if str(e)), type(exc).__name__)
    name = next((n for n, kinds in _RULES if any(isinstance(e, kinds) for e in chain)), None)
    if name is None:
        connector = next((e for e in chain if isinstance(e, aiohttp.ClientConnectorError)), None)
        if connector is not None:
            name = "refused" if connector.errno == errno.ECONNREFUSED else "reset"
    if name is None:
        return "protocol", detail
    return name, f"{_EXPLAIN[name].format(target=_target(url))} [{detail}]"


def _target(url: str | None) -> str:
    """`host:port` of a URL, for messages; "the target" when unknown."""
    if not url:
        return "the target"
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = None
    return f"{parts.hostname}:{port}" if parts.hostname and port else (parts.hostname or url)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
