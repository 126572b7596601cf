"""What the detail screen shows, as Textual markup and Rich renderables built from stored documents.

Pure functions of the documents (and a clock for countdowns); the screen only places them in tabs. `load` runs
on a thread: it reads the documents and highlights the bodies there, so the UI's loop only lays them out.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from rich.syntax import Syntax
from textual.content import Content
from textual.markup import escape

from ...core import queries
from ...core.service import Service
from ..badges import state_badge, verdict_badge
from ..clock import Clock
from ..diff import attempt_lines, body_kind, capture_body, hexdump, request_lines

TEXT_LIMIT = 128 * 1024  # bytes of a body shown inline; `o` opens all of it in the pager
HEX_LIMIT = 4 * 1024


@dataclass
class DetailData:
    """A capture, the event it became, and that event's deliveries, found from any one of them."""

    kind: str
    id: str
    capture: dict[str, Any] | None = None
    event: dict[str, Any] | None = None
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    complete: bool = True  # False: the event's deliveries are still being read (`load(..., scan=False)`)
    read: bool = True  # False: nothing read yet (the screen shows a placeholder until `load` returns)
    bodies: dict[str, Content | str] = field(default_factory=dict)  # request, event, answer, forward: drawn
    original: dict[str, Any] | None = None  # the capture a replay was made from (for `D`)

    @property
    def found(self) -> bool:
        if self.kind == "capture":
            return self.capture is not None
        if self.kind == "event":
            return self.event is not None
        return bool(self.deliveries)

    @property
    def delivery(self) -> dict[str, Any] | None:
        return self.deliveries[0] if self.kind == "delivery" and self.deliveries else None


def load(service: Service, kind: str, id: str, *, scan: bool = True) -> DetailData:
    """Everything about the item, by id lookups (O(1)); the deliveries of an event take a scan of the
    deliveries, left out (`complete` False) unless `scan`: the screen runs that part on a thread."""
    d = DetailData(kind, id)
    store = service.store
    if kind == "capture":
        d.capture = queries.get(store, "capture", id)
    elif kind == "event":
        d.event = queries.get(store, "event", id)
    elif kind == "delivery":
        delivery = queries.get(store, "delivery", id)
        d.deliveries = [delivery] if delivery else []
        if delivery:
            d.event = queries.get(store, "event", delivery.get("event_id") or "")
    if d.capture and d.capture.get("event_id") and d.event is None:
        d.event = queries.get(store, "event", d.capture["event_id"])
    if d.event and d.event.get("capture_id") and d.capture is None:
        d.capture = queries.get(store, "capture", d.event["capture_id"])
    if d.event and kind != "delivery" and store is not None:
        if scan:
            d.deliveries = list(reversed(queries.deliveries_of(store, {d.event["id"]}, limit=50, whole=True)))
        else:
            d.complete = False
    for dl in d.deliveries:
        wid = dl.get("webhook_id") or ""
        if wid not in d.webhooks:
            d.webhooks[wid] = queries.get(store, "webhook", wid) or {}
    if d.capture:
        c = d.capture
        d.original = queries.get(store, "capture", c["replay_of"]) if c.get("replay_of") else None
        d.bodies["request"] = body_renderable(capture_body(c), truncated=bool(c.get("truncated")))
        d.bodies["answer"] = answer_body(c.get("response"))
        d.bodies["forward"] = answer_body(c.get("forward"))
    if d.event:
        d.bodies["event"] = body_renderable(event_data(d.event))
    return d


def fmt_time(ts: float | None, clock: Clock) -> str:
    """`2026-01-01 12:00:02.000`, in local time (UTC when the clock says so); `-` for no time."""
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d ", time.gmtime(ts) if clock.utc else time.localtime(ts)) + clock.hms(ts)


def kv(rows: list[tuple[str, Any]]) -> str:
    """`key  value` lines, keys bold and padded; values escaped (None shown as -)."""
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"[b]{k:<{width}}[/b]  {escape(str(v)) if v is not None else '-'}" for k, v in rows)


def headers_markup(headers: list[list[str]] | None) -> str:
    if not headers:
        return "[$text-muted](no headers)[/]"
    return "\n".join(f"[$text-primary]{escape(n)}[/]: {escape(v)}" for n, v in headers)


def body_renderable(data: bytes, *, truncated: bool = False) -> Content | str:
    """JSON pretty-printed and highlighted (here, once: a `Syntax` would highlight again on each render), text as
    is, binary as a hex dump; long bodies cut for display."""
    kind = body_kind(data)
    note = "\n[$text-warning]the body was cut at the body limit when it was received[/]" if truncated else ""
    if kind == "empty":
        return "[$text-muted](empty body)[/]" + note
    if kind == "binary":
        return (
            f"[$text-muted]binary, {len(data):,} bytes[/]\n"
            + escape("\n".join(hexdump(data, HEX_LIMIT)))
            + note
        )
    if len(data) > TEXT_LIMIT:
        shown = data[:TEXT_LIMIT].decode("utf-8", "replace")
        return escape(shown) + f"\n[$text-warning]… {len(data) - TEXT_LIMIT:,} more bytes: o opens it all[/]"
    text = data.decode("utf-8")
    if kind == "json":
        pretty = json.dumps(json.loads(data), indent=2, ensure_ascii=False)
        syntax = Syntax(pretty, "json", theme="ansi_dark", background_color="default", word_wrap=True)
        highlighted = syntax.highlight(pretty)
        highlighted.rstrip()  # (the trailing newline the highlighter adds)
        return Content.from_rich_text(
            highlighted
        )  # (Textual draws its own `Content` faster than Rich's `Text`)
    return escape(text) + note


def request_summary(c: dict[str, Any], clock: Clock) -> str:
    q = c.get("query") or ""
    rows = [
        ("received", fmt_time(c.get("received_at"), clock)),
        ("endpoint", c.get("endpoint")),
        ("from", c.get("remote")),
        ("size", f"{c.get('body_size', 0):,} bytes"),
        ("sha256", c.get("body_sha256")),
        ("event", c.get("event_id")),
    ]
    if c.get("replay_of"):
        rows.append(("replay of", c["replay_of"]))
    if c.get("browser"):
        rows.append(
            ("browser", "sent by a web page (Origin or Sec-Fetch-Site): shown, never published or forwarded")
        )
    line = f"[b]{escape(c.get('method') or '')} {escape((c.get('path') or '/') + (f'?{q}' if q else ''))}[/b]"
    return line + "\n" + kv(rows)


def signature_markup(c: dict[str, Any]) -> str:
    v = c.get("verdict")
    if not v:
        return "[$text-muted]this request was not verified[/]"
    rows = [
        ("scheme", v.get("scheme")),
        ("secret", v.get("secret")),
        ("message id", v.get("msg_id")),
        ("timestamp", v.get("timestamp")),
        ("clock skew", f"{v['skew_s']} s" if v.get("skew_s") is not None else None),
        ("headers read", ", ".join(v.get("headers_read") or []) or None),
    ]
    parts = [f"{verdict_badge(v.get('status'))}  {escape(v.get('reason') or '')}", "", kv(rows)]
    if v.get("expected") or v.get("received"):
        parts += [
            "",
            "[b]expected[/b]  " + escape(str(v.get("expected") or "-")),
            "[b]received[/b]  " + escape(str(v.get("received") or "-")),
        ]
    if v.get("diagnosis"):
        parts += ["", "[b]diagnosis[/b]", *(f"  • {escape(line)}" for line in v["diagnosis"])]
    return "\n".join(parts)


def event_markup(e: dict[str, Any], clock: Clock) -> str:
    return kv(
        [
            ("type", e.get("type")),
            ("id", e.get("id")),
            ("source", e.get("source")),
            ("created", fmt_time(e.get("created_at"), clock)),
            ("capture", e.get("capture_id")),
            ("verdict", e.get("verdict")),
        ]
    )


def answer_markup(r: dict[str, Any] | None, *, what: str, none: str) -> str:
    """The response katya-tui sent, or the forward target's answer."""
    if not r:
        return f"[$text-muted]{none}[/]"
    status = r.get("status")
    outcome = f"HTTP {status}" if status is not None else f"no answer ({r.get('error_class') or 'error'})"
    rows = [
        ("to", r.get("url")),
        ("latency", f"{r['latency_ms']:.1f} ms" if r.get("latency_ms") is not None else None),
        ("error", r.get("error_class")),
        ("reason", r.get("reason")),
    ]
    rows = [(k, v) for k, v in rows if v is not None]
    return f"[b]{what}: {escape(outcome)}[/b]\n" + kv(rows) + "\n\n" + headers_markup(r.get("headers"))


def answer_body(r: dict[str, Any] | None) -> Content | str:
    body = (r or {}).get("body")
    if isinstance(body, str | bytes):
        return body_renderable(body.encode("utf-8") if isinstance(body, str) else body)
    return body_renderable(json.dumps(body).encode()) if body is not None else ""


def delivery_markup(dl: dict[str, Any], webhook: dict[str, Any], clock: Clock) -> str:
    name = webhook.get("name") or dl.get("webhook_id")
    head = (
        f"[b]{escape(str(name))}[/b] → {escape(dl.get('url') or '')}   {state_badge(dl.get('state'))}"
        f"   [$text-muted]{escape(dl.get('id') or '')}[/]"
    )
    attempts = dl.get("attempts") or []
    info = [
        f"{len(attempts)} attempt{'s' if len(attempts) != 1 else ''}",
        f"inbound signature {verdict_badge(dl.get('verdict'))}" if dl.get("verdict") else "",
    ]
    nxt = dl.get("next_attempt_at")
    if dl.get("state") == "pending" and nxt is not None:
        info.append(f"[$text-warning]next attempt {clock.until(nxt)}[/]")
    return head + "\n" + "   ".join(x for x in info if x)


def attempt_markup(a: dict[str, Any], clock: Clock) -> str:
    status = a.get("status_code")
    ok = status is not None and 200 <= status < 300
    colour = "$text-success" if ok else "$text-error"
    outcome = f"HTTP {status}" if status is not None else f"no response: {a.get('error_class') or 'error'}"
    latency = f"{a['latency_ms']:.0f} ms" if a.get("latency_ms") is not None else "-"
    extra = "  [$text-muted](resend)[/]" if a.get("manual") else ""
    cells = [
        f"#{a.get('n')}",
        fmt_time(a.get("started_at"), clock),
        f"[{colour}]{escape(outcome)}[/]",
        latency,
        escape(a.get("error_class") or ""),
        escape(a.get("reason") or ""),
    ]
    line = "  " + "  ".join(c for c in cells if c) + extra
    resp = a.get("response_headers") or []
    if resp:
        line += "\n" + "\n".join(f"      [$text-primary]{escape(n)}[/]: {escape(v)}" for n, v in resp)
    body = a.get("response_body") or ""
    if body:
        shown = body if len(body) <= 2000 else body[:2000] + f"… ({len(body) - 2000:,} more characters)"
        line += "\n      " + escape(shown).replace("\n", "\n      ")
    return line


def section_texts(d: DetailData, clock: Clock) -> dict[str, Content | str]:
    """The sections of the request, signature, event, answer and forward tabs, by widget id."""
    texts: dict[str, Content | str] = {}
    if d.capture:
        c, r, f = d.capture, d.capture.get("response"), d.capture.get("forward")
        texts = {
            "request-summary": request_summary(c, clock),
            "request-headers": "[b]Headers[/b]\n" + headers_markup(c.get("headers")),
            "request-body": d.bodies.get("request", ""),
            "signature": signature_markup(c),
            "answer-summary": answer_markup(r, what="katya-tui answered", none="no answer recorded"),
            "answer-body": d.bodies.get("answer", ""),
            "forward-summary": answer_markup(
                f, what="forward target answered", none="not forwarded: this endpoint has no forward target"
            ),
            "forward-body": d.bodies.get("forward", ""),
        }
    if d.event:
        texts |= {"event-summary": event_markup(d.event, clock), "event-body": d.bodies.get("event", "")}
    return texts


def attempt_texts(d: DetailData, clock: Clock) -> list[tuple[str, bool]]:
    """The attempts tab: (markup, whether it is a delivery's) a section."""
    if not d.complete:
        return [("[$text-muted]reading the deliveries…[/]", False)]
    if not d.deliveries:
        return [("[$text-muted]no subscription matched this event: nothing was delivered[/]", False)]
    out = []
    for dl in d.deliveries:
        attempts = dl.get("attempts") or []
        text = delivery_markup(dl, d.webhooks.get(dl.get("webhook_id") or "", {}), clock)
        text += "\n" + (
            "\n".join(attempt_markup(a, clock) for a in attempts) or "  [$text-muted]no attempt yet[/]"
        )
        out.append((text, True))
    return out


def title_markup(d: DetailData) -> str:
    if not d.read:
        return f"[b]{d.kind}[/b] {escape(d.id)}  ·  [$text-muted]reading…[/]"
    if not d.found:
        return f"[$text-error]no {d.kind} {escape(d.id)} in the store (pruned, or not yet written)[/]"
    bits = [f"[b]{d.kind}[/b] {escape(d.id)}"]
    if d.capture:
        c = d.capture
        bits += [
            f"{escape(c.get('method') or '')} {escape(c.get('path') or '')}",
            verdict_badge((c.get("verdict") or {}).get("status")),
        ]
    if d.event:
        bits.append(f"[$text-primary]{escape(d.event.get('type') or '')}[/]")
    if d.delivery:
        bits.append(state_badge(d.delivery.get("state")))
    return "  ·  ".join(bits)


def plain_text(d: DetailData) -> str:
    """Everything known about the item as plain text, for the pager."""
    out: list[str] = [f"{d.kind} {d.id}", ""]
    if d.capture:
        out += [
            "== request ==",
            *request_lines(d.capture),
            "",
            "== signature ==",
            json.dumps(d.capture.get("verdict"), indent=2),
            "",
            "== response ==",
            json.dumps(d.capture.get("response"), indent=2),
            "",
            "== forward ==",
            json.dumps(d.capture.get("forward"), indent=2),
            "",
        ]
    if d.event:
        out += ["== event ==", json.dumps(d.event, indent=2, ensure_ascii=False), ""]
    for dl in d.deliveries:
        out += [f"== delivery {dl.get('id')} → {dl.get('url')} ({dl.get('state')}) =="]
        for a in dl.get("attempts") or []:
            out += [*attempt_lines(a), ""]
    return "\n".join(out)


def event_data(e: dict[str, Any]) -> bytes:
    return json.dumps(e.get("data"), indent=2, ensure_ascii=False).encode("utf-8")


def body_for_copy(d: DetailData) -> bytes | None:
    """The request body when there is a capture, else the event's data as JSON."""
    if d.capture:
        return capture_body(d.capture)
    return event_data(d.event) if d.event else None
