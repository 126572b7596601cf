"""Request → Capture: the body read with a limit and an idle timeout, headers as received, SHA-256, remote address."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from ..models import Capture, encode_body, new_id

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


async def read_body(request: web.BaseRequest, limit: int, idle_timeout: float) -> Body:
    """Read up to `limit` bytes; past it, stop and mark the body cut. A sender that stalls longer than
    `idle_timeout` between chunks, or a connection that ends before Content-Length bytes, keeps what came."""
    chunks: list[bytes] = []
    got = 0
    claimed = request.content_length
    stream = request.content
    try:
        while True:
            chunk = stream.read_nowait()  # what is buffered already: most bodies, with no timer to set up
            if not chunk:
                if stream.at_eof():
                    break
                async with asyncio.timeout(idle_timeout):  # (wait_for would cost a task per read)
                    chunk = await stream.readany()
                if not chunk:
                    break
            chunks.append(chunk)
            got += len(chunk)
            if got > limit:
                data = b"".join(chunks)[:limit]
                size = max(got, claimed or 0)
                detail = f"body of {'at least ' if claimed is None else ''}{size} bytes is over the {limit} byte limit"
                return Body(data, size, True, "too_large", detail)
            if claimed is not None and got >= claimed:
                break  # all that was announced: do not wait on a connection the sender may half-close
    except TimeoutError:
        return Body(
            b"".join(chunks), got, True, "timeout", f"no body bytes for {idle_timeout:g} s after {got} bytes"
        )
    except (
        Exception
    ) as exc:  # connection lost, bad chunking, a lying Content-Length: keep every byte that came
        rest = b"".join(
            getattr(stream, "_buffer", ())
        )  # bytes aiohttp buffered before it recorded the failure
        data = b"".join(chunks) + rest
        why = (
            "the connection ended mid-body"
            if isinstance(exc, ConnectionError)
            else "the body could not be read"
        )
        said = f" (Content-Length said {claimed})" if claimed is not None else ""
        return Body(
            data[:limit], len(data), True, "incomplete", f"{why} after {len(data)} bytes{said}: {exc}"
        )
    data = b"".join(chunks)
    if claimed is not None and got < claimed:
        return Body(data, got, True, "incomplete", f"Content-Length said {claimed} bytes, {got} arrived")
    return Body(data, got, False)


def split_path(request: web.Request) -> tuple[str, str]:
    """(endpoint name, sub-path) from `/hooks/{endpoint}[/sub/path]`."""
    endpoint = request.match_info.get("endpoint", "")
    tail = request.match_info.get("tail", "")
    return endpoint, tail


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
