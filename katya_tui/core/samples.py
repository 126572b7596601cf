"""Realistic sample payloads for every type of the event catalogue, in the seeds' shapes.

Pure data: no I/O. Each generator takes a ``random.Random`` and the current time and returns a fresh
dict, so the same seeded ``rng`` and the same ``now`` always give the same payload.

Shapes, by source:
- Katya (seeds 000 and 002): camelCase objects with string ids (``msg_…``, ``room_…``) and ISO 8601 UTC
  times ending in ``Z``. Member events carry ``{"room": {...}, "member": {...}}``, as seed 000's table says.
- Admin panel (seed 001): snake_case with integer ids and naive ISO times (``2024-01-15T10:30:00``), as in
  its ``user.created`` example.
- Job result (seed 003): the whole callback body ``{job_id, status, timestamp, total_lots, ...}``.
- Wazzup24 (seed 004): the ``data`` part only (the body is ``{"event": raw_name, "data": ...}``), with
  Unix-seconds timestamps and Kazakh phone numbers as in the seed.

:func:`katya_tui.core.catalog.sample_data` is the public entry point; this module only holds the
generators (``GENERATORS``) and the id and time helpers they share.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"

Generator = Callable[[random.Random, datetime], dict[str, Any]]


# --- ids and times -----------------------------------------------------------------------------


def short_id(rng: random.Random, prefix: str, length: int = 10) -> str:
    """``prefix_`` followed by ``length`` lowercase letters and digits drawn from ``rng``."""
    return prefix + "_" + "".join(rng.choice(_ALNUM) for _ in range(length))


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: ``2024-01-01T12:00:00Z``, or ``…12:00:00.250Z`` when there are
    milliseconds (JavaScript's ``toISOString`` style; sub-millisecond digits are dropped)."""
    moment = as_utc(moment)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    millis = moment.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else text + "Z"


def _naive(moment: datetime) -> str:
    """Seed 001's style: naive UTC, seconds precision (``2024-01-15T10:30:00``)."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S")


def _ago(now: datetime, rng: random.Random, low_s: int, high_s: int) -> datetime:
    return now - timedelta(seconds=rng.randint(low_s, high_s))


def _phone(rng: random.Random) -> str:
    return f"+7 7{rng.choice('0457')}{rng.randint(0, 9)} {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"


# --- Katya: trust ------------------------------------------------------------------------------

_DISPLAY_NAMES = (
    "Alice Chen",
    "Bob Ivanov",
    "Carol Diaz",
    "Dmitri Sokolov",
    "Eve Martin",
    "Farida Nurlanova",
)
_METHODS = ("in_person", "qr_code", "key_signing", "video_call")


def _identity(rng: random.Random, now: datetime, *, updated: bool) -> dict[str, Any]:
    name = rng.choice(_DISPLAY_NAMES)
    created = _ago(now, rng, 86_400, 90 * 86_400) if updated else now
    key = "".join(rng.choice(_ALNUM) for _ in range(43))
    return {
        "id": short_id(rng, "idn"),
        "userId": short_id(rng, "user"),
        "displayName": name,
        "handle": "@" + name.split()[0].lower() + str(rng.randint(1, 99)),
        "publicKey": f"ed25519:{key}",
        "status": "active",
        "trustLevel": rng.choice(("verified", "trusted")) if updated else "unverified",
        "createdAt": iso_utc(created),
        "updatedAt": iso_utc(now),
        "metadata": {"device": rng.choice(("ios", "android", "web", "desktop")), "keyVersion": 1 + updated},
    }


def _verification(rng: random.Random, now: datetime, *, updated: bool) -> dict[str, Any]:
    created = _ago(now, rng, 600, 7 * 86_400) if updated else now
    return {
        "id": short_id(rng, "ver"),
        "identityId": short_id(rng, "idn"),
        "verifierId": short_id(rng, "idn"),
        "method": rng.choice(_METHODS),
        "status": rng.choice(("confirmed", "revoked")) if updated else "pending",
        "confidence": round(rng.uniform(0.6, 1.0), 2),
        "createdAt": iso_utc(created),
        "updatedAt": iso_utc(now),
        "expiresAt": iso_utc(created + timedelta(days=365)),
        "metadata": {"note": rng.choice(("Met at the meetup", "Verified over video", "Scanned QR code"))},
    }


def _reputation(rng: random.Random, now: datetime) -> dict[str, Any]:
    previous = round(rng.uniform(40, 90), 1)
    change = round(rng.uniform(-5, 8), 1)
    score = round(min(100.0, max(0.0, previous + change)), 1)
    return {
        "id": short_id(rng, "rep"),
        "identityId": short_id(rng, "idn"),
        "score": score,
        "previousScore": previous,
        "change": round(score - previous, 1),
        "level": "trusted" if score >= 75 else "established" if score >= 50 else "new",
        "verificationsCount": rng.randint(1, 40),
        "reason": rng.choice(("verification.confirmed", "verification.revoked", "activity.decay")),
        "updatedAt": iso_utc(now),
    }


# --- Katya: messages and rooms -----------------------------------------------------------------

_CONTENTS = (
    "Hello, world!",
    "Can we move the sync to 15:00?",
    "Deploy finished, all green.",
    "Sharing the notes from today's call.",
    "Who has the keys to the staging box?",
    "Thanks, that fixed it!",
)


def _message(rng: random.Random, now: datetime, *, state: str = "created") -> dict[str, Any]:
    created = now if state == "created" else _ago(now, rng, 30, 3_600)
    message: dict[str, Any] = {
        "id": short_id(rng, "msg"),
        "roomId": short_id(rng, "room"),
        "senderId": short_id(rng, "user"),
        "content": rng.choice(_CONTENTS),
        "messageType": rng.choice(("text", "text", "text", "image", "file")),
        "createdAt": iso_utc(created),
        "metadata": {"priority": rng.choice(("normal", "normal", "high", "low")), "encrypted": True},
    }
    if state == "updated":
        message["content"] += " (edited)"
        message["updatedAt"] = iso_utc(now)
    elif state == "deleted":
        message["deletedAt"] = iso_utc(now)
        message["deletedBy"] = message["senderId"]
    return message


_ROOM_NAMES = ("general", "backend-team", "release-2024-q3", "design-review", "support", "random")


def _room(rng: random.Random, now: datetime, *, fresh: bool = False) -> dict[str, Any]:
    created = now if fresh else _ago(now, rng, 86_400, 180 * 86_400)
    return {
        "id": short_id(rng, "room"),
        "name": rng.choice(_ROOM_NAMES),
        "type": rng.choice(("group", "group", "channel", "direct")),
        "ownerId": short_id(rng, "user"),
        "memberCount": 1 if fresh else rng.randint(2, 250),
        "encrypted": True,
        "createdAt": iso_utc(created),
        "updatedAt": iso_utc(now),
        "metadata": {"topic": rng.choice(("Daily chatter", "Sprint planning", "Incidents", ""))},
    }


def _member_event(rng: random.Random, now: datetime, *, joined: bool) -> dict[str, Any]:
    room = _room(rng, now)
    member: dict[str, Any] = {
        "userId": short_id(rng, "user"),
        "displayName": rng.choice(_DISPLAY_NAMES),
        "role": rng.choice(("member", "member", "moderator", "admin")),
    }
    if joined:
        member["joinedAt"] = iso_utc(now)
        member["invitedBy"] = room["ownerId"]
    else:
        member["joinedAt"] = iso_utc(_ago(now, rng, 3_600, 60 * 86_400))
        member["leftAt"] = iso_utc(now)
        member["reason"] = rng.choice(("left", "left", "removed"))
    return {"room": room, "member": member}


# --- Katya: analytics, security, system --------------------------------------------------------


def _report(rng: random.Random, now: datetime, *, completed: bool) -> dict[str, Any]:
    end = as_utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    kind = rng.choice(("daily_activity", "weekly_engagement", "trust_network", "delivery_health"))
    days = 7 if kind.startswith("weekly") else 1
    report: dict[str, Any] = {
        "id": short_id(rng, "report"),
        "name": kind.replace("_", " ").title(),
        "type": kind,
        "status": "completed" if completed else "pending",
        "format": rng.choice(("pdf", "csv", "json")),
        "period": {"startDate": iso_utc(end - timedelta(days=days)), "endDate": iso_utc(end)},
        "requestedBy": short_id(rng, "user"),
        "createdAt": iso_utc(_ago(now, rng, 60, 900) if completed else now),
    }
    if completed:
        report["completedAt"] = iso_utc(now)
        report["url"] = f"https://api.katya.wtf/v1/analytics/reports/{report['id']}/download"
        report["summary"] = {"rows": rng.randint(100, 50_000), "durationMs": rng.randint(800, 60_000)}
    return report


_METRICS = (
    ("cpu_usage", "percent", 5.0, 99.0),
    ("memory_usage", "percent", 20.0, 95.0),
    ("active_users", "count", 10, 5_000),
    ("message_rate", "per_minute", 0.0, 1_200.0),
    ("p95_latency", "ms", 20.0, 900.0),
)


def _metric(rng: random.Random, now: datetime) -> dict[str, Any]:
    name, unit, low, high = rng.choice(_METRICS)
    value = (
        rng.randint(low, high)
        if isinstance(low, int) and isinstance(high, int)
        else round(rng.uniform(low, high), 1)
    )
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "timestamp": iso_utc(now),
        "metadata": {
            "server": f"web-{rng.randint(1, 12):02d}",
            "region": rng.choice(("us-east-1", "eu-central-1", "ap-south-1")),
        },
    }


_ALERTS = (
    ("Suspicious login attempt", "Multiple failed login attempts detected", "authentication", "high"),
    (
        "New device sign-in",
        "An account signed in from a device seen for the first time",
        "authentication",
        "medium",
    ),
    ("API token used from new country", "A token was used from an unusual location", "access", "high"),
    ("Rate limit exceeded", "A client exceeded 100 requests per minute", "abuse", "low"),
    ("Key rotation overdue", "A signing key is older than 90 days", "configuration", "medium"),
)


def _alert(rng: random.Random, now: datetime, *, updated: bool) -> dict[str, Any]:
    title, description, category, severity = rng.choice(_ALERTS)
    created = _ago(now, rng, 60, 7_200) if updated else now
    alert: dict[str, Any] = {
        "id": short_id(rng, "alert"),
        "title": title,
        "description": description,
        "severity": severity,
        "category": category,
        "source": f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "status": rng.choice(("acknowledged", "resolved")) if updated else "open",
        "createdAt": iso_utc(created),
        "metadata": {"userId": short_id(rng, "user"), "attempts": rng.randint(1, 12), "timeWindow": "5m"},
    }
    if updated:
        alert["updatedAt"] = iso_utc(now)
    return alert


def _scan(rng: random.Random, now: datetime, *, completed: bool) -> dict[str, Any]:
    started = _ago(now, rng, 20, 1_800) if completed else now
    scan: dict[str, Any] = {
        "id": short_id(rng, "scan"),
        "type": rng.choice(("vulnerability", "dependency", "configuration", "malware")),
        "target": rng.choice(("api.katya.wtf", "web-01", "mobile-app", "webhooks-service")),
        "status": "completed" if completed else "running",
        "startedAt": iso_utc(started),
        "triggeredBy": rng.choice(("schedule", "manual", "deploy")),
    }
    if completed:
        scan["completedAt"] = iso_utc(now)
        scan["durationMs"] = int((now - started).total_seconds() * 1000)
        scan["findings"] = {
            "critical": rng.randint(0, 1),
            "high": rng.randint(0, 3),
            "medium": rng.randint(0, 8),
            "low": rng.randint(0, 20),
        }
    return scan


def _maintenance(rng: random.Random, now: datetime, *, ended: bool) -> dict[str, Any]:
    start = _ago(now, rng, 900, 7_200) if ended else now
    window = timedelta(minutes=rng.choice((30, 60, 120)))
    data: dict[str, Any] = {
        "id": short_id(rng, "maint"),
        "title": rng.choice(("Database upgrade", "Network maintenance", "Certificate rotation")),
        "description": "Planned maintenance; webhook deliveries may be delayed.",
        "status": "completed" if ended else "in_progress",
        "impact": rng.choice(("none", "degraded_performance", "partial_outage")),
        "affectedServices": rng.sample(["api", "websocket", "webhooks", "analytics"], k=2),
        "scheduledStart": iso_utc(start),
        "scheduledEnd": iso_utc(start + window),
        "startedAt": iso_utc(start),
    }
    if ended:
        data["endedAt"] = iso_utc(now)
    return data


_STATUSES = ("operational", "degraded_performance", "partial_outage", "major_outage")


def _system_status(rng: random.Random, now: datetime) -> dict[str, Any]:
    previous, current = rng.sample(_STATUSES, k=2)
    return {
        "component": rng.choice(("api", "websocket", "webhooks", "trust-network")),
        "status": current,
        "previousStatus": previous,
        "message": "All systems operational"
        if current == "operational"
        else "Investigating elevated error rates",
        "changedAt": iso_utc(now),
    }


# --- Admin panel (seed 001) --------------------------------------------------------------------

_FIRST = ("Ivan", "Anna", "Test", "Aigerim", "Sergey", "Maria")
_LAST = ("Petrov", "Smirnova", "User", "Bekova", "Volkov", None)
_PAY_METHODS = ("yookassa", "cryptobot", "telegram_stars", "tribute")
_TICKET_STATUSES = ("open", "answered", "pending", "closed")


def _user(rng: random.Random, now: datetime) -> dict[str, Any]:
    first = rng.choice(_FIRST)
    return {
        "user_id": rng.randint(100, 99_999),
        "telegram_id": rng.randint(100_000_000, 7_999_999_999),
        "username": first.lower() + str(rng.randint(1, 999)),
        "first_name": first,
        "last_name": rng.choice(_LAST),
        "referral_code": "ref" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6)),
        "referred_by_id": rng.choice((None, None, rng.randint(100, 99_999))),
    }


def _payment(rng: random.Random, now: datetime) -> dict[str, Any]:
    kopeks = rng.choice((10_000, 25_000, 50_000, 100_000, 300_000))
    return {
        "payment_id": rng.randint(1_000, 999_999),
        "transaction_id": rng.randint(1_000, 999_999),
        "user_id": rng.randint(100, 99_999),
        "amount_kopeks": kopeks,
        "amount_rubles": kopeks / 100,
        "currency": "RUB",
        "payment_method": rng.choice(_PAY_METHODS),
        "description": "Пополнение баланса",
        "status": "completed",
        "completed_at": _naive(now),
    }


def _transaction(rng: random.Random, now: datetime) -> dict[str, Any]:
    kind = rng.choice(("deposit", "subscription_payment", "referral_reward", "withdrawal"))
    kopeks = rng.choice((5_000, 10_000, 19_900, 50_000))
    return {
        "transaction_id": rng.randint(1_000, 999_999),
        "user_id": rng.randint(100, 99_999),
        "type": kind,
        "amount_kopeks": -kopeks if kind in ("subscription_payment", "withdrawal") else kopeks,
        "description": {
            "deposit": "Пополнение баланса",
            "subscription_payment": "Оплата подписки на 30 дней",
            "referral_reward": "Реферальный бонус",
            "withdrawal": "Вывод средств",
        }[kind],
        "payment_method": rng.choice(_PAY_METHODS) if kind == "deposit" else None,
        "is_completed": True,
        "created_at": _naive(now),
    }


def _ticket(rng: random.Random, now: datetime) -> dict[str, Any]:
    return {
        "ticket_id": rng.randint(1, 9_999),
        "user_id": rng.randint(100, 99_999),
        "title": rng.choice(("Не работает подключение", "Вопрос по оплате", "Can't open the app")),
        "status": "open",
        "priority": rng.choice(("low", "normal", "normal", "high")),
        "message": rng.choice(
            ("После оплаты подписка не активировалась.", "Please help, the app crashes on start.")
        ),
        "created_at": _naive(now),
    }


def _ticket_status(rng: random.Random, now: datetime) -> dict[str, Any]:
    old, new = rng.sample(_TICKET_STATUSES, k=2)
    return {
        "ticket_id": rng.randint(1, 9_999),
        "user_id": rng.randint(100, 99_999),
        "old_status": old,
        "new_status": new,
        "changed_by_admin_id": rng.randint(1, 20),
        "updated_at": _naive(now),
    }


def _ticket_message(rng: random.Random, now: datetime) -> dict[str, Any]:
    from_admin = rng.random() < 0.5
    return {
        "ticket_id": rng.randint(1, 9_999),
        "message_id": rng.randint(1, 99_999),
        "user_id": rng.randint(100, 99_999),
        "is_from_admin": from_admin,
        "message_text": "Проверили, подписка активирована." if from_admin else "Спасибо, жду ответа.",
        "created_at": _naive(now),
    }


# --- Job result (seed 003) ---------------------------------------------------------------------


def _job(rng: random.Random, now: datetime, *, status: str) -> dict[str, Any]:
    total = rng.randint(1, 50)
    if status == "completed":
        failed = 0
    elif status == "failed":
        failed = total
    else:
        total = max(total, 2)
        failed = rng.randint(1, total - 1)
    job_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return {
        "job_id": job_id,
        "status": status,
        "timestamp": iso_utc(now),
        "total_lots": total,
        "completed_lots": total - failed,
        "failed_lots": failed,
        "webhook_url": "https://your-domain.com/webhook-handler",
        "results_available": failed < total,
    }


# --- Wazzup24 (seed 004) -----------------------------------------------------------------------

_WZ_NAMES = ("Анна Смирнова", "Иван Петров", "Айгерим Бекова", "Test User")
_WZ_TEXTS = ("Здравствуйте! У меня вопрос по услугам.", "Привет! Как дела?", "Когда будет готов заказ?")


def _wazzup_message(rng: random.Random, now: datetime) -> dict[str, Any]:
    phone = _phone(rng)
    data: dict[str, Any] = {
        "id": f"msg_{rng.randint(100_000, 999_999)}",
        "chatId": f"chat_{rng.randint(100, 9_999)}",
        "text": rng.choice(_WZ_TEXTS),
        "type": "text",
        "from": phone,
        "timestamp": int(as_utc(now).timestamp()),
        "contact": {"name": rng.choice(_WZ_NAMES), "phone": phone},
    }
    if rng.random() < 0.25:
        data["type"] = "file"
        data["text"] = "Отправляю документ"
        data["file"] = {
            "url": "https://wazzup24.com/files/document.pdf",
            "name": "document.pdf",
            "size": rng.randint(10_000, 5_000_000),
            "mimeType": "application/pdf",
        }
    return data


def _wazzup_status(rng: random.Random, now: datetime) -> dict[str, Any]:
    return {
        "messageId": f"msg_{rng.randint(100_000, 999_999)}",
        "status": rng.choice(("sent", "delivered", "delivered", "read", "error")),
        "timestamp": int(as_utc(now).timestamp()),
    }


def _wazzup_contact(rng: random.Random, now: datetime) -> dict[str, Any]:
    return {
        "phone": _phone(rng),
        "name": rng.choice(_WZ_NAMES) + " (обновлено)",
        "avatar": "https://wazzup24.com/avatars/avatar.jpg",
        "timestamp": int(as_utc(now).timestamp()),
    }


# --- the table ---------------------------------------------------------------------------------

GENERATORS: dict[str, Generator] = {
    "trust.identity.created": lambda r, n: _identity(r, n, updated=False),
    "trust.identity.updated": lambda r, n: _identity(r, n, updated=True),
    "trust.verification.created": lambda r, n: _verification(r, n, updated=False),
    "trust.verification.updated": lambda r, n: _verification(r, n, updated=True),
    "trust.reputation.updated": _reputation,
    "message.created": lambda r, n: _message(r, n, state="created"),
    "message.updated": lambda r, n: _message(r, n, state="updated"),
    "message.deleted": lambda r, n: _message(r, n, state="deleted"),
    "room.created": lambda r, n: _room(r, n, fresh=True),
    "room.updated": _room,
    "room.member.joined": lambda r, n: _member_event(r, n, joined=True),
    "room.member.left": lambda r, n: _member_event(r, n, joined=False),
    "analytics.report.created": lambda r, n: _report(r, n, completed=False),
    "analytics.report.completed": lambda r, n: _report(r, n, completed=True),
    "analytics.metric.updated": _metric,
    "security.alert.created": lambda r, n: _alert(r, n, updated=False),
    "security.alert.updated": lambda r, n: _alert(r, n, updated=True),
    "security.scan.started": lambda r, n: _scan(r, n, completed=False),
    "security.scan.completed": lambda r, n: _scan(r, n, completed=True),
    "system.maintenance.start": lambda r, n: _maintenance(r, n, ended=False),
    "system.maintenance.end": lambda r, n: _maintenance(r, n, ended=True),
    "system.status.changed": _system_status,
    "user.created": _user,
    "payment.completed": _payment,
    "transaction.created": _transaction,
    "ticket.created": _ticket,
    "ticket.status_changed": _ticket_status,
    "ticket.message_added": _ticket_message,
    "job.completed": lambda r, n: _job(r, n, status="completed"),
    "job.failed": lambda r, n: _job(r, n, status="failed"),
    "job.partially_completed": lambda r, n: _job(r, n, status="partially_completed"),
    "wazzup.message": _wazzup_message,
    "wazzup.status": _wazzup_status,
    "wazzup.contact": _wazzup_contact,
}
