"""Shared HMAC-SHA256 helpers: compute, encode, decode and compare digests."""

from __future__ import annotations

import base64
import binascii
import hmac
import re

HEX, B64 = "hex", "base64"
_HEX_RE = re.compile(r"[0-9a-fA-F]{64}")
_B64_RE = re.compile(r"[A-Za-z0-9+/]{43}=")


def mac(key: bytes, msg: bytes) -> bytes:
    """HMAC-SHA256 of ``msg`` under ``key`` (one-shot: no HMAC object)."""
    return hmac.digest(key, msg, "sha256")


def encode(digest: bytes, enc: str) -> str:
    """Encode a digest as lowercase hex or standard base64."""
    return digest.hex() if enc == HEX else base64.b64encode(digest).decode("ascii")


def decode(token: str, enc: str) -> bytes | None:
    """Decode a SHA-256 digest written in ``enc``; None unless it is exactly 32 well-formed bytes."""
    if enc == HEX:
        return bytes.fromhex(token) if _HEX_RE.fullmatch(token) else None
    if not _B64_RE.fullmatch(token):
        return None
    try:
        return base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return None


def other(enc: str) -> str:
    """The other encoding."""
    return B64 if enc == HEX else HEX


def equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a, b)


def b64_key(text: str) -> bytes | None:
    """Strictly base64-decode a key; None when it is not base64."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True) or None
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def text_key(secret: str) -> bytes:
    """A secret used as text (UTF-8), never raising."""
    return secret.encode("utf-8", "surrogatepass")
