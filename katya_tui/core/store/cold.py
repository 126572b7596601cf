"""An index in memory, records on disk: which fields of a record stay in memory and which go to the segments.

A record's large fields (`COLD`) are written to a segment as one JSON blob (a capture's body as its own blob, its
bytes as received) and the document in memory keeps the rest, plus a slim copy of the cold fields the lists,
filters, dedup and the dispatcher read (a verdict's status, an attempt's status code), plus `$cold`: the
references of its blobs, space-separated, oldest first. `thaw` puts the whole record back together. A later
update of cold fields adds a blob, which overrides the earlier ones field by field; an item appended to a cold
list adds a blob `{"+key": item}`.

Some values are kept once for several records. An event whose data was parsed from its capture's body (`DATA_AT`)
refers to that body's blob (kind `d`: the body's `data` key; `e`: the whole body), and the capture, stored next,
refers to the same blob as its body. A delivery refers to its event's data blob. Each reference counts in
`Segments.live`, so a segment is deleted only when none is left.

A record whose cold part would be smaller than `INLINE` bytes stays whole in memory: a reference takes about as
much memory as that, and reading it back would cost a read for nothing.
"""

from __future__ import annotations

import base64
import sys
from typing import Any

import orjson

from .segments import SHA_PREFIX, BlobDamaged, Segments

REFS = "$cold"
DATA_AT = "$at"
"""Set on an event to insert whose data was parsed from the body of the capture stored right after it:
`(body bytes, its sha256 hex, where)`, where "" is the whole body and "data" its key (see the module's docstring)."""
DAMAGED = "damaged"  # set by `thaw` on a record whose blobs cannot be read back
INLINE = 64

COLD: dict[str, dict[str, tuple[str, ...]]] = {
    "captures": {
        "headers": (),
        "body": (),
        "body_encoding": (),
        "body_sha256": (),
        "query": (),
        "remote": (),
        "truncated": (),
        "body_note": (),
        "verdict": ("status", "scheme", "msg_id"),
        "response": ("status", "action"),
        "forward": ("status", "error_class", "url"),
    },
    "events": {"data": ()},
    "deliveries": {
        "data": (),
        "attempts": (
            "n",
            "started_at",
            "latency_ms",
            "status_code",
            "error_class",
            "reason",
            "manual",
            "outcome",
        ),
    },
}
"""Table -> its cold fields -> the keys of their slim copy in memory (of the dict, or of each dict of a list)."""
DEFAULTS: dict[str, dict[str, Any]] = {
    "captures": {
        "forward": None,
        "event_id": None,
        "event_type": None,
        "replay_of": None,
        "duplicate_of": None,
        "loopback": False,
        "browser": False,
        "imported": None,
        "relay": None,
    },
}
"""Table -> fields a document in memory leaves out while they hold their usual value (`thaw` puts them back):
fewer keys make smaller dicts, in memory and to parse at open. Read them with `.get()`."""
GROWS = frozenset({"deliveries"})  # records that gain items (attempts): frozen from the start, however small


SHARED = frozenset(
    ("endpoint", "method", "path", "event_type", "type", "source", "verdict", "state", "webhook_id", "url")
)
"""Fields whose few distinct values recur in every record: memory keeps one copy of each value (`share`)."""


def share(doc: dict[str, Any]) -> None:
    """Make the recurring string values of a document in memory (and of its slim copies) one object each: a JSON
    parser and a request make a new string for each record, and at 100,000 records the copies add up."""
    for k, v in doc.items():
        if type(v) is str:
            if k in SHARED:
                doc[k] = sys.intern(v)
        elif type(v) is dict and k != REFS:
            for kk, vv in v.items():
                if type(vv) is str and kk in _SLIM_SHARED:
                    v[kk] = sys.intern(vv)


_SLIM_SHARED = frozenset(("status", "scheme", "action", "error_class", "url"))
_COPIES: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
_MAX_COPIES = 4096


def one_copy(slim: Any) -> Any:
    """A slim copy whose values all recur (an answer's status and action, not a verdict's message id) as one object
    for all the documents that hold an equal one: at 100,000 records the dicts add up. Documents in memory are
    never changed in place, so they can share it."""
    if type(slim) is not dict or not slim.keys() <= _SLIM_SHARED:
        return slim
    try:
        key = tuple(slim.items())
        if len(_COPIES) < _MAX_COPIES or key in _COPIES:
            return _COPIES.setdefault(key, slim)
    except TypeError:  # (a value that is not hashable: kept as it is)
        pass
    return slim


def _slim(value: Any, keys: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: value.get(k) for k in keys}
    if isinstance(value, list):
        return [_slim(v, keys) for v in value]
    return value


def refs_of(doc: dict[str, Any]) -> list[str]:
    """The segment references (without their kind) a document in memory holds."""
    refs = doc.get(REFS)
    return [r[1:] for r in refs.split(" ")] if refs else []


class Cold:
    def __init__(self, segments: Segments) -> None:
        self.segments = segments
        # (capture id, body ref) an event wrote for the capture stored next; (event id, its data, its data's ref)
        # of the event frozen last, for its deliveries
        self._body: tuple[Any, str] | None = None
        self._data: tuple[Any, Any, str] | None = None

    def freeze(self, table: str, doc: dict[str, Any]) -> dict[str, Any]:
        """The document to keep in memory for a whole record `doc` (its blobs appended), or `doc` itself when its
        table keeps everything in memory or its cold part is small."""
        at = doc.pop(DATA_AT, None)
        spec = COLD.get(table)
        if spec is None or REFS in doc:
            return doc
        kept = self._kept(table, doc, at)
        cold = {k: doc[k] for k in spec if k in doc and k != "body" and k not in kept}
        body = _body_bytes(doc) if "body" in spec and "body" not in kept else None
        blob = orjson.dumps(cold) if cold else b""
        if not kept and table not in GROWS and len(blob) + (len(body) if body is not None else 0) < INLINE:
            return doc
        usual = DEFAULTS.get(table, {})
        hot = {k: v for k, v in doc.items() if k not in spec and (k not in usual or v is not usual[k])}
        for k in cold:
            if spec[k] and (k not in usual or cold[k] is not usual[k]):
                hot[k] = _slim(cold[k], spec[k])
        refs = list(kept.values())
        if body is not None:
            refs.append("b" + self.segments.put(body, checked="body_sha256" not in doc))
        if cold:
            refs.append("j" + self.segments.put(blob))
        hot[REFS] = " ".join(refs)
        if table == "events" and refs:  # (an event's only cold field is its data: its blob serves deliveries)
            self._data = (doc.get("id"), doc.get("data"), refs[-1])
        share(hot)
        for k in cold:
            if k in hot:
                hot[k] = one_copy(hot[k])
        return hot

    def _kept(self, table: str, doc: dict[str, Any], at: tuple[bytes, str, str] | None) -> dict[str, str]:
        """The cold fields of `doc` kept as blobs already written (see the module's docstring): field -> ref."""
        kept: dict[str, str] = {}
        if table == "events" and at is not None and len(at[0]) >= INLINE:
            body, sha, where = at
            ref = f"{self.segments.put(body, checked=False)}:{sha[:SHA_PREFIX]}"
            self._body = (doc.get("capture_id"), ref.rsplit(":", 1)[0])
            return {"data": ("e" if where == "" else "d") + ref}
        if table == "captures" and self._body is not None and self._body[0] == doc.get("id"):
            kept["body"] = "b" + self._body[1]
            self._body = None
        elif table == "deliveries" and self._data is not None:
            event_id, data, ref = self._data
            if doc.get("event_id") == event_id and doc.get("data") is data:
                kept["data"] = ref
        self.segments.count([r[1:] for r in kept.values()], 1)
        return kept

    def spec(self, table: str) -> dict[str, tuple[str, ...]]:
        return COLD.get(table, {})

    def must_refreeze(self, table: str, doc: dict[str, Any], fields: dict[str, Any]) -> bool:
        """Whether an update of `fields` must freeze the record anew (`freeze({**doc, **fields})` replacing the
        document): it was kept whole so far, and the update touches its cold fields."""
        spec = COLD.get(table)
        return spec is not None and REFS not in doc and any(k in spec for k in fields)

    def freeze_fields(self, table: str, doc: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        """What to set on the frozen document `doc` for an update of `fields`: the cold ones as a new blob."""
        spec = COLD.get(table)
        if spec is None or REFS not in doc or not any(k in spec for k in fields):
            return fields
        cold = {k: v for k, v in fields.items() if k in spec}
        if "body" in cold:
            raise ValueError("a stored body is never replaced")
        hot = {k: v for k, v in fields.items() if k not in spec}
        for k, v in cold.items():
            if spec[k]:
                hot[k] = _slim(v, spec[k])
        hot[REFS] = f"{doc[REFS]} j{self.segments.put(orjson.dumps(cold))}"
        return hot

    def freeze_item(self, table: str, key: str, item: Any) -> tuple[Any, str]:
        """(what to append to the list `key` of a frozen document, the reference to add to its `$cold`)."""
        slim = _slim(item, COLD[table][key])
        return slim, "j" + self.segments.put(orjson.dumps({"+" + key: item}))

    def thaw(self, table: str, doc: dict[str, Any], body: bool = True) -> dict[str, Any]:
        """The whole record of a document in memory (a new dict; nested values shared), without a capture's body
        unless `body`. A blob that cannot be read back leaves the slim fields, and `damaged` says why."""
        refs = doc.get(REFS)
        out = dict(doc)
        if not refs:
            return out
        for k, v in DEFAULTS.get(table, {}).items():
            out.setdefault(k, v)
        del out[REFS]
        appended: dict[str, list[Any]] = {}
        body_ref = None
        try:
            for ref in refs.split(" "):
                if ref[0] == "b":
                    body_ref = ref[1:]
                    continue
                blob = self.segments.get(ref[1:])
                if ref[0] != "j":  # "d", "e": data in a capture's body
                    obj = orjson.loads(blob)
                    out["data"] = obj["data"] if ref[0] == "d" else obj
                    continue
                for k, v in orjson.loads(blob).items():
                    if k[0] == "+":
                        appended.setdefault(k[1:], []).append(v)
                    else:
                        out[k] = v
                        appended.pop(k, None)  # (a whole list written anew)
            if body and body_ref is not None:  # (checked against the sha256 its record keeps)
                blob = self.segments.get(body_ref, out.get("body_sha256"))
                out["body"] = _body_text(blob, out.get("body_encoding"))
        except (BlobDamaged, orjson.JSONDecodeError, ValueError, AttributeError, KeyError, TypeError) as exc:
            out[DAMAGED] = str(exc)
            return out
        for k, items in appended.items():
            whole = out.get(k)
            out[k] = (whole if whole is not doc.get(k) and isinstance(whole, list) else []) + items
        return out


def _body_bytes(doc: dict[str, Any]) -> bytes | None:
    text = doc.get("body")
    if not isinstance(text, str):
        return None
    return base64.b64decode(text) if doc.get("body_encoding") == "base64" else text.encode("utf-8")


def _body_text(blob: bytes, encoding: Any) -> str:
    return base64.b64encode(blob).decode("ascii") if encoding == "base64" else blob.decode("utf-8")
