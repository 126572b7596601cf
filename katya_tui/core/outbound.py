"""Outbound HTTP for deliveries, forwards and replays: one fast httpx client, one `send` that never raises.

`make_client()` is an `httpx.AsyncClient` over the `httpx-aiohttp` transport, so code holding it keeps httpx's
API. `send()` goes further for speed and fidelity: with such a client it sends plain `http://` requests through
a lean keep-alive HTTP/1.1 client (`http1.py`: about a third of aiohttp's CPU a request), and anything
else (HTTPS, user info in the URL) through the transport's aiohttp session directly (httpx's own pool measured
10-20x slower here, and httpx's request machinery over aiohttp ~2x; see `bench/bench_dispatcher.py`), sending
headers exactly as given (order, case, repeats). Any other httpx client works too, through httpx's API.
Redirects are never followed. A slot count in front of the pool makes a request that finds no free connection
within `pool_timeout` come back `sent=False` (not an attempt) instead of waiting forever. Network failures
become an `OutboundResult` with an error class.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from multidict import CIMultiDict, istr

BODY_CAP = 64 * 1024
BASE64_MARK = "base64:"
# Recomputed from the body and the URL; passing the originals on would break the request.
_DROPPED = frozenset({"content-length", "transfer-encoding", "host", "connection", "keep-alive"})
_BAD_URL = (
    httpx.UnsupportedProtocol,
    httpx.InvalidURL,
    aiohttp.InvalidURL,
    getattr(aiohttp, "NonHttpUrlClientError", aiohttp.InvalidURL),
)
_NO_AUTO = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})
_NO_AUTO_ISTR = frozenset(istr(h) for h in _NO_AUTO)  # as a session holds them (make_client's sessions do)
_TIMEOUTS: dict[float, aiohttp.ClientTimeout] = {}  # one (immutable) ClientTimeout per distinct timeout


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


ORIGIN_HEADER = "X-Katya-Origin"
KEEPALIVE_S = 4.0  # idle seconds a kept connection is reused within (see make_client)


def make_client(
    max_connections: int = 100, pool_timeout: float | None = 30.0, origin: str | None = None
) -> httpx.AsyncClient:
    """A client for `send`: aiohttp transport, no redirects, no cookies, no env proxies, at most `max_connections`
    requests in flight (the rest wait up to `pool_timeout` s for a slot, then are reported not sent).

    `origin` (the sending instance's id) goes out as `X-Katya-Origin` on every request, so a request that comes
    back to the same instance's /hooks is recognised and not published again: no delivery or forward loops."""
    # Idle connections are let go after 4 s: Node's and uvicorn's servers close theirs at 5 s, and a request sent on
    # a connection in the moment the server closes it comes back "reset" (a POST is not retried).
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=KEEPALIVE_S,
    )

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=limits.keepalive_expiry)
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            skip_auto_headers=_NO_AUTO,
            auto_decompress=False,
        )

    from .http1 import Pool

    client = _Client(
        transport=AiohttpTransport(limits=limits, trust_env=False, client=session),
        follow_redirects=False,
        trust_env=False,
        timeout=30.0,
    )
    client.katya_slots = asyncio.Semaphore(max_connections)  # type: ignore[attr-defined]
    client.katya_pool_timeout = pool_timeout  # type: ignore[attr-defined]
    client.katya_origin = origin  # type: ignore[attr-defined]
    client.katya_http1 = Pool(max_connections, keepalive=KEEPALIVE_S)
    return client


class _Client(httpx.AsyncClient):
    """make_client's client: closing it closes the HTTP/1.1 pool's connections too."""

    katya_http1: Any = None

    async def aclose(self) -> None:
        if self.katya_http1 is not None:
            self.katya_http1.close()
        await super().aclose()


def _clean(headers: list[tuple[str, str]] | list[list[str]]) -> list[tuple[str, str]]:
    return [
        (k, v) if type(k) is str and type(v) is str else (str(k), str(v))
        for k, v in headers
        if str(k).lower() not in _DROPPED
    ]


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


def classify(exc: BaseException, url: str | None = None) -> tuple[str, str]:
    """(error class, one-line reason a person can act on) for a failed request, looking through its causes.

    The reason says what happened in plain words, then the low-level error in brackets."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    detail = next((f"{type(e).__name__}: {e}" for e in chain if str(e)), type(exc).__name__)
    dns_error = getattr(aiohttp, "ClientConnectorDNSError", socket.gaierror)
    rules: list[tuple[str, Any]] = [
        ("dns", (dns_error, socket.gaierror)),
        ("tls", (aiohttp.ClientSSLError, ssl.SSLError)),
        ("refused", ConnectionRefusedError),
        (
            "reset",
            (
                ConnectionResetError,
                BrokenPipeError,
                aiohttp.ServerDisconnectedError,
                httpx.RemoteProtocolError,
            ),
        ),
        ("timeout", (TimeoutError, httpx.TimeoutException)),
    ]
    name = next((n for n, kinds in rules if any(isinstance(e, kinds) for e in chain)), None)
    if name is None:
        connector = next((e for e in chain if isinstance(e, aiohttp.ClientConnectorError)), None)
        if connector is not None:
            name = "refused" if connector.errno == errno.ECONNREFUSED else "reset"
    if name is None:
        return "protocol", detail
    target = _target(url)
    return name, f"{_EXPLAIN[name].format(target=target)} [{detail}]"


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


def _aiohttp_session(client: httpx.AsyncClient) -> aiohttp.ClientSession | None:
    """The aiohttp session under a `make_client()` client (None for any other httpx client)."""
    transport = getattr(client, "_transport", None)
    if not isinstance(transport, AiohttpTransport):
        return None
    if not isinstance(transport.client, aiohttp.ClientSession):
        transport.client = transport.get_client()
    return transport.client


async def _read_capped(chunks: AsyncIterator[bytes]) -> tuple[bytes, bool]:
    kept: list[bytes] = []
    size = 0
    async for chunk in chunks:
        kept.append(chunk)
        size += len(chunk)
        if size > BODY_CAP:
            break
    return b"".join(kept)[:BODY_CAP], size > BODY_CAP


async def _via_aiohttp(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    timeout: float,
) -> OutboundResult:
    """The fast path: aiohttp directly, headers exactly as given (order, case, repeats), no automatic ones
    but Host and Content-Length; `timeout` bounds the whole exchange."""
    client_timeout = _TIMEOUTS.get(timeout)
    if client_timeout is None:
        client_timeout = _TIMEOUTS[timeout] = aiohttp.ClientTimeout(total=timeout)
        if len(_TIMEOUTS) > 256:
            _TIMEOUTS.clear()
    # make_client's sessions skip the automatic headers already; saying it again costs a set a request
    skip = None if session.skip_auto_headers == _NO_AUTO_ISTR else _NO_AUTO
    async with session.request(
        method,
        url,
        data=body or None,
        headers=CIMultiDict(headers),
        skip_auto_headers=skip,
        allow_redirects=False,
        auto_decompress=False,
        compress=None,
        timeout=client_timeout,
    ) as response:
        if response.content_length is not None and response.content_length <= BODY_CAP:
            data, cut = await response.read(), False
        else:
            data, cut = await _read_capped(response.content.iter_any())
        return OutboundResult(
            status=response.status,
            headers=[[k.decode("latin-1"), v.decode("latin-1")] for k, v in response.raw_headers],
            body=body_text(data),
            reason=f"{response.status} {response.reason or ''}".strip(),
            truncated=cut,
        )


def _from_http1(answer: Any) -> OutboundResult:
    """The HTTP/1.1 client's answer (see `http1.py`) as `_via_aiohttp` gives it."""
    return OutboundResult(
        status=answer.status,
        headers=answer.headers,
        body=body_text(answer.body),
        reason=f"{answer.status} {answer.reason}".strip(),
        truncated=answer.truncated,
    )


async def _via_httpx(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    timeout: float,
) -> OutboundResult:
    """Any other httpx client (used by the benchmark to compare pools)."""
    request = client.build_request(
        method, url, headers=headers, content=body or None, timeout=httpx.Timeout(timeout, pool=None)
    )
    response = await client.send(request, stream=True, follow_redirects=False)
    try:
        data, cut = await _read_capped(response.aiter_raw())
    finally:
        await response.aclose()
    return OutboundResult(
        status=response.status_code,
        headers=[[k.decode("latin-1"), v.decode("latin-1")] for k, v in response.headers.raw],
        body=body_text(data),
        reason=f"{response.status_code} {response.reason_phrase}".strip(),
        truncated=cut,
    )


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: list[tuple[str, str]] | list[list[str]],
    body: bytes,
    timeout: float,
) -> OutboundResult:
    """Send one request with an overall deadline of `timeout` s; never raises for network errors.

    Content-Length, Transfer-Encoding and Host are recomputed from the body and the URL. Redirects are not
    followed (a 3xx is returned as is). The response body is kept up to 64 KB (raw bytes, not decompressed).
    """
    slots: asyncio.Semaphore | None = getattr(client, "katya_slots", None)
    if slots is not None:
        try:
            if slots.locked():
                async with asyncio.timeout(getattr(client, "katya_pool_timeout", None)):
                    await slots.acquire()
            else:
                await slots.acquire()  # a free slot: no wait, no timer
        except TimeoutError:
            return OutboundResult(None, sent=False, reason="no free connection in the pool: not sent")
    origin = getattr(client, "katya_origin", None)
    if origin:
        headers = [*headers, (ORIGIN_HEADER, origin)]
    started = time.perf_counter()
    try:
        pool = getattr(client, "katya_http1", None)
        where = pool.target(url) if pool is not None else None
        if where is not None:
            result = _from_http1(await pool.request(method, where, _clean(headers), body, timeout, BODY_CAP))
        elif (session := _aiohttp_session(client)) is not None:
            result = await _via_aiohttp(session, method, url, _clean(headers), body, timeout)
        else:
            async with asyncio.timeout(timeout):
                result = await _via_httpx(client, method, url, _clean(headers), body, timeout)
    except _BAD_URL as exc:
        return OutboundResult(None, latency_ms=_ms(started), error_class="protocol", reason=f"bad URL: {exc}")
    except (httpx.HTTPError, aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
        error_class, reason = classify(exc, url)
        if error_class == "timeout":
            reason = f"{_target(url)} gave no complete answer within {timeout:g} s (the request timeout)"
        return OutboundResult(None, latency_ms=_ms(started), error_class=error_class, reason=reason)
    finally:
        if slots is not None:
            slots.release()
    result.latency_ms = _ms(started)
    return result


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
