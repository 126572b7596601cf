"""Explanations of failed verifications: one line per true finding, never a secret's value."""

from __future__ import annotations

from ._base import NOJSON, Parsed, Scheme, SigningConfigError, dumps_bytes
from ._hmac import equal, mac

# Re-serialisations a sender or a framework commonly signs instead of the raw bytes (seed 000's traps).
RESERIALISATIONS: tuple[tuple[str, dict], ...] = (
    ("compact JSON (JSON.stringify's bytes)", {"separators": (",", ":"), "ensure_ascii": False}),
    ("compact JSON with ensure_ascii=True", {"separators": (",", ":")}),
    ("Python json.dumps defaults (', ', ': ', ensure_ascii=True)", {}),
    ("json.dumps with ensure_ascii=False", {"ensure_ascii": False}),
    ("json.dumps with sort_keys=True", {"sort_keys": True}),
    ("json.dumps with sort_keys=True, ensure_ascii=False", {"sort_keys": True, "ensure_ascii": False}),
    ("compact JSON with sorted keys", {"separators": (",", ":"), "sort_keys": True, "ensure_ascii": False}),
    ("pretty-printed JSON (indent 2)", {"indent": 2, "ensure_ascii": False}),
)
PRE = "the body re-serialised as "
PASTED_PREFIXES = ("v1,", "v1=", "v0=", "sha256=", "sha1=")


def _match(key: bytes, contents: list[bytes], cands: list[tuple[bytes, str]]) -> str | None:
    """The label of the candidate signature that ``key`` reproduces over one of ``contents`` ('' = as sent)."""
    for c in contents:
        digest = mac(key, c)
        for cand, label in cands:
            if equal(digest, cand):
                return label
    return None


def body_variants(scheme: Scheme, p: Parsed, primary: list[bytes]) -> list[tuple[str, bytes]]:
    """(description, signed content) for each distinct re-serialisation of the body."""
    found: dict[bytes, list[str]] = {}
    payload = p.json()
    if payload is not NOJSON:
        for desc, kw in RESERIALISATIONS:
            b = dumps_bytes(payload, **kw)
            if b is not None:
                found.setdefault(b, []).append(PRE + desc)
    if scheme.signs_raw_body:
        if p.body.endswith(b"\n"):
            found.setdefault(p.body.rstrip(b"\r\n"), []).append("the body without its trailing newline")
        else:
            found.setdefault(p.body + b"\n", []).append("the body with a trailing newline added")
    out = []
    for b, descs in found.items():
        content = scheme.build(b, p)
        if content not in primary:
            same = (
                f" (the same bytes as {', '.join(d.removeprefix(PRE) for d in descs[1:])})"
                if len(descs) > 1
                else ""
            )
            out.append((descs[0] + same, content))
    return out


def secret_variants(scheme: Scheme, label: str, secret: str) -> tuple[list[str], list[tuple[str, bytes]]]:
    """True facts about a configured secret, and (description, key) variants worth trying."""
    facts: list[str] = []
    tries: list[tuple[str, str | bytes]] = []
    if secret != secret.strip():
        facts.append(f"secret {label} has surrounding whitespace")
        tries.append(("with its surrounding whitespace removed", secret.strip()))
    s = secret.strip()
    for pre in PASTED_PREFIXES:
        if s.lower().startswith(pre) and len(s) > len(pre):
            facts.append(f"secret {label} starts with {pre!r}: a signature prefix pasted with the secret")
            tries.append((f"without the pasted {pre!r}", s[len(pre) :]))
    tries += scheme.key_variants(s)
    keys = []
    for desc, v in tries:
        try:
            keys.append((desc, v if isinstance(v, bytes) else scheme.key(v)))
        except SigningConfigError:
            continue
    return facts, keys


def diagnose(
    scheme: Scheme,
    p: Parsed,
    status: str,
    named: list[tuple[str, str]],
    keys: list[tuple[str, bytes]],
    other_endpoints: dict[str, list[str]] | None,
) -> list[str]:
    """Findings about a failed verification (timestamps and ids are reported by the caller)."""
    lines = list(dict.fromkeys(p.errors + p.notes))
    primary = [c for _, c in scheme.contents(p)] if scheme.ready(p) else []
    cands = p.candidates
    explained = False
    if cands and primary:
        for label, key in keys:
            how = _match(key, primary, cands)
            if how is not None:
                read = f"read as {how}, " if how else ""
                lines.append(f"{read}the signature itself matches secret {label}")
                explained = True
        what = scheme.contents(p)[0][0]
        for desc, content in body_variants(scheme, p, primary):
            for label, key in keys:
                if _match(key, [content], cands) is not None:
                    lines.append(
                        f"the signature matches {desc} with secret {label}, not {what}: "
                        "the sender (or a proxy) re-serialised the parsed JSON"
                    )
                    explained = True
    for label, secret in named:
        facts, variants = secret_variants(scheme, label, secret)
        lines += facts
        for desc, key in variants:
            if cands and primary and _match(key, primary, cands) is not None:
                lines.append(f"the signature matches secret {label} {desc}")
                explained = True
    for name, secrets in (other_endpoints or {}).items():
        for secret in secrets:
            try:
                key = scheme.key(secret)
            except (SigningConfigError, AttributeError):
                continue
            if cands and primary and _match(key, primary, cands) is not None:
                lines.append(
                    f"the signature matches a secret of endpoint {name!r}: the request was probably meant for that endpoint"
                )
                explained = True
                break
    if status == "invalid" and cands and keys and not explained:
        lines.append(
            "no configured secret, secret variant or re-serialisation reproduces the signature: "
            "the secret differs, or the body changed in transit"
        )
    return lines
