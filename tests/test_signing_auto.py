"""Auto detection, unsigned verdicts, and the Verdict's JSON form."""

import json

import pytest

from katya_tui.core.signing import SCHEMES, Verdict, detect_scheme, sign, verify
from katya_tui.core.signing.verdict import STATUSES

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"id":"evt_1","data":{"text":"hello"}}'
TS = 1_700_000_000


def test_schemes_tuple():
    assert SCHEMES == ("katya", "admin", "job", "wazzup", "standard", "stripe", "github", "shopify", "slack")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_auto_detects_every_scheme_from_its_own_signature(scheme):
    s = sign(scheme, BODY, SECRET, timestamp=TS)
    assert detect_scheme(s.headers, s.body) == (scheme,)
    v = verify("auto", body=s.body, headers=s.headers, secrets=[SECRET], now=TS)
    assert (v.status, v.scheme) == ("valid", scheme)
    assert "auto" not in v.reason


def test_auto_detects_svix_headers():
    assert detect_scheme([("Svix-Signature", "v1,x"), ("svix-id", "m")]) == ("standard",)


def test_auto_says_when_two_schemes_fit_and_keeps_the_valid_one():
    job = sign("job", BODY, "k").headers
    katya = sign("katya", BODY, "other", timestamp=TS).headers
    headers = katya + job
    assert detect_scheme(headers, BODY) == ("katya", "job")
    v = verify("auto", body=BODY, headers=headers, secrets=["k"], now=TS)
    assert (v.status, v.scheme) == ("valid", "job")
    assert "(auto: the headers also fit katya)" in v.reason
    v = verify("auto", body=BODY, headers=headers, secrets=["nope"], now=TS)
    assert v.status == "invalid" and v.scheme == "katya"
    assert v.diagnosis[0] == "the headers fit several schemes (katya, job); chose katya"


def test_auto_wazzup_only_without_signature_headers():
    body = b'{"event":"message","signature":"sha256=00"}'
    assert detect_scheme([], body) == ("wazzup",)
    assert detect_scheme([("X-Signature", "00")], body) == ("job",)


def test_auto_uses_typical_headers_when_no_signature_is_present():
    assert detect_scheme([("X-Katya-Delivery", "d"), ("X-Katya-Event", "e")]) == ("katya",)
    assert detect_scheme([("X-GitHub-Event", "push")]) == ("github",)
    v = verify("auto", body=BODY, headers=[("X-GitHub-Event", "push")], secrets=["k"], now=TS)
    assert (v.status, v.scheme) == ("missing", "github")
    assert v.reason == "missing X-Hub-Signature-256"


def test_auto_with_nothing_recognisable():
    assert detect_scheme([("Content-Type", "application/json")], b"\xff") == ()
    v = verify("auto", body=b"\xff", headers=[], secrets=["k"], now=TS)
    assert (v.status, v.scheme) == ("missing", None)
    assert "X-Katya-Signature" in v.diagnosis[0]
    v = verify("auto", body=b"\xff", headers=[], secrets=[], now=TS)
    assert (v.status, v.scheme) == ("unsigned", None)
    assert "--secret" in v.reason


@pytest.mark.parametrize("scheme", SCHEMES)
def test_unsigned_reports_scheme_and_signature_presence(scheme):
    s = sign(scheme, BODY, SECRET, timestamp=TS)
    v = verify("auto", body=s.body, headers=s.headers, secrets=[], now=TS)
    assert (v.status, v.scheme) == ("unsigned", scheme)
    assert "add one with --secret" in v.reason
    assert v.diagnosis[0].startswith(f"{scheme} signature present in ")
    assert v.expected is None and v.secret is None
    if scheme != "wazzup":
        assert v.received is not None


def test_unsigned_without_signature_header():
    v = verify("katya", body=BODY, headers=[("X-Katya-Timestamp", str(TS))], secrets=[], now=TS)
    assert v.status == "unsigned"
    assert v.diagnosis[0] == "katya signature absent (looked for X-Katya-Signature)"
    assert "missing: X-Katya-Signature, X-Katya-Delivery (optional)" in v.diagnosis


@pytest.mark.parametrize("scheme", SCHEMES)
def test_verdict_json_round_trip_and_no_secret_value(scheme):
    secret = "whsec_c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtbGVhayE="
    s = sign(scheme, BODY, secret, timestamp=TS, msg_id="m-1")
    cases = [
        verify(scheme, body=s.body, headers=s.headers, secrets=[secret], now=TS),
        verify(scheme, body=s.body + b" ", headers=s.headers, secrets=[" " + secret], now=TS + 999),
        verify(
            scheme,
            body=s.body,
            headers=s.headers,
            secrets=["v1," + secret],
            now=TS,
            other_endpoints={"shop": [secret]},
        ),
        verify("auto", body=s.body, headers=s.headers, secrets=[("prod", secret)], now=TS),
    ]
    for v in cases:
        d = v.to_dict()
        text = json.dumps(d)
        assert secret not in text and secret[6:] not in text
        assert v.status in STATUSES
        assert Verdict.from_dict(json.loads(text)) == v


def test_from_dict_ignores_unknown_keys_and_fills_lists():
    v = Verdict.from_dict({"status": "valid", "scheme": "job", "reason": "r", "extra": 1})
    assert v == Verdict("valid", "job", "r")
    assert v.diagnosis == [] and v.headers_read == [] and v.ok
