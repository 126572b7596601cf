"""Frames between the server process and its receiver workers (`pool.py`, `process.py`) over a Unix socket.

A frame is `!BII` (kind, header length, raw length), a JSON header, then raw bytes, so a body crosses as it is:
- TAKE, worker → server: a request taken in (`Intake`); raw = its body;
- PLAN, server → worker: the answer decided (`Plan`); raw = the answer's body;
- CONFIGS, server → worker: every endpoint config, sent at start and on each change;
- HELLO, worker → server: ready to take connections;
- STOP, server → worker: take what was handed over, finish its requests, then end;
- LOG, worker → server: a log record, written where this process's log goes (a file: never the TUI's terminal).

A PLAN with an `error` (and no answer) says the server could not record the request: the worker answers 500.
"""

from __future__ import annotations

import struct
import time
from typing import Any

import orjson

from ...models import Capture, encode_body
from ..capture import Body
from ..intake import Intake
from ..respond import Plan

TAKE, PLAN, CONFIGS, HELLO, STOP, LOG = 1, 2, 3, 4, 5, 6
HEAD = struct.Struct("!BII")


def frame(kind: int, header: Any, raw: bytes = b"") -> bytes:
    h = orjson.dumps(header)
    return HEAD.pack(kind, len(h), len(raw)) + h + raw


class Frames:
    """Splits the bytes of a stream into `(kind, header, raw)` frames as they arrive."""

    def __init__(self) -> None:
        self._rest = b""  # the start of a frame still arriving

    def feed(self, data: bytes) -> list[tuple[int, Any, bytes]]:
        if self._rest:
            data = self._rest + data
        out = []
        pos, end, size, unpack = 0, len(data), HEAD.size, HEAD.unpack_from
        while end - pos >= size:
            kind, hl, rl = unpack(data, pos)
            h0 = pos + size
            stop = h0 + hl + rl
            if stop > end:
                break
            out.append((kind, orjson.loads(data[h0 : h0 + hl]), data[h0 + hl : stop]))
            pos = stop
        self._rest = data[pos:] if pos < end else b""
        return out


def take_frame(n: int, took: Intake) -> bytes:
    cap = dict(vars(took.cap))
    del cap["body"], cap["body_encoding"]  # the raw bytes cross instead
    b = took.body
    header = {
        "n": n,
        "cap": cap,
        "size": b.size,
        "truncated": b.truncated,
        "problem": b.problem,
        "detail": b.detail,
        "found": took.found,
        "elapsed": time.perf_counter() - took.started,
        "origin": took.origin,
    }
    return frame(TAKE, header, b.data)


def read_take(h: dict[str, Any], raw: bytes) -> tuple[int, Intake]:
    cap = h["cap"]
    cap["body"], cap["body_encoding"] = encode_body(raw)
    capture = Capture.__new__(Capture)  # every field crossed (`take_frame`): no defaults to fill in
    capture.__dict__ = cap
    body = Body(raw, h["size"], h["truncated"], h["problem"], h["detail"])
    found = tuple(h["found"]) if h["found"] else None
    return h["n"], Intake(capture, body, found, time.perf_counter() - h["elapsed"], h["origin"])


def plan_frame(n: int, plan: Plan) -> bytes:
    header = {
        "n": n,
        "status": plan.status,
        "headers": plan.headers,
        "delay_ms": plan.delay_ms,
        "action": plan.action,
        "hold_s": plan.hold_s,
        "reason": plan.reason,
    }
    return frame(PLAN, header, plan.body)


def read_plan(h: dict[str, Any], raw: bytes) -> tuple[int, Plan]:
    n = h.pop("n")
    return n, Plan(body=raw, **h)
