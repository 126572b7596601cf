"""Each diagnosis is produced when, and only when, it is true."""

import base64
import hashlib
import hmac
import json

import pytest

from katya_tui.core.signing import sign, verify

TS = 1_700_000_000
OBJ = {"id": "evt_1", "type": "message.created", "data": {"text": "Привет", "b": 1, "a": 2}}
RAW = json.dumps(OBJ, indent=4, ensure_ascii=False).encode()  # what arrives: pretty, UTF-8
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def hexmac(key, msg):
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def katya(signed_bytes, secret=b"k", ts=TS):
    return [
        ("X-Katya-Signature", "sha256=" + hexmac(secret, signed_bytes)),
        ("X-Katya-Timestamp", str(ts)),
        ("X-Katya-Delivery", "dlv_1"),
    ]


def check(scheme, body, headers, secrets=("k",), now=TS, **kw):
    return verify(scheme, body=body, headers=headers, secrets=list(secrets), now=now, **kw)


def joined(v):
    return "\n".join(v.diagnosis)


RESERIALISED = [
    ("compact JSON (JSON.stringify's bytes)", {"separators": (",", ":"), "ensure_ascii": False}),
    ("compact JSON with ensure_ascii=True", {"separators": (",", ":")}),
    ("Python json.dumps defaults", {}),
    ("json.dumps with ensure_ascii=False", {"ensure_ascii": False}),
    ("json.dumps with sort_keys=True", {"sort_keys": True}),
    ("json.dumps with sort_keys=True, ensure_ascii=False", {"sort_keys": True, "ensure_ascii": False}),
]


@pytest.mark.parametrize(("name", "kw"), RESERIALISED)
def test_signature_over_a_reserialised_body_is_named(name, kw):
    signed_bytes = json.dumps(OBJ, **kw).encode()
    v = check("katya", RAW, katya(signed_bytes))
    assert v.status == "invalid"
    hits = [d for d in v.diagnosis if d.startswith("the signature matches the body re-serialised as")]
    assert len(hits) == 1
    assert hits[0].startswith(f"the signature matches the body re-serialised as {name}")
    assert "not the raw body" in hits[0]
    assert "reproduces the signature" not in joined(v)


def test_seed_000_node_example_trap():
    # the sender signs the raw bytes it sends; a receiver following seed 000 re-serialises. Here the
    # opposite direction: a proxy re-serialised the body compactly after signing with Python defaults.
    sent = json.dumps(OBJ).encode()
    received = json.dumps(OBJ, separators=(",", ":"), ensure_ascii=False).encode()
    v = check("katya", received, katya(sent))
    assert "Python json.dumps defaults" in joined(v)


def test_identical_serialisations_are_named_together():
    ascii_obj = {"b": 1, "a": [1, 2]}
    signed_bytes = json.dumps(ascii_obj).encode()  # same bytes with ensure_ascii on or off
    v = check("katya", b'{"b":1,"a":[1,2]}', katya(signed_bytes))
    line = next(d for d in v.diagnosis if "re-serialised" in d)
    assert (
        "Python json.dumps defaults" in line
        and "the same bytes as json.dumps with ensure_ascii=False" in line
    )


def test_reserialisation_equal_to_raw_body_is_not_reported():
    compact = json.dumps(OBJ, separators=(",", ":"), ensure_ascii=False).encode()
    v = check("katya", compact, katya(b"something else"))
    assert v.status == "invalid"
    assert "JSON.stringify" not in joined(v)
    assert "reproduces the signature" in joined(v)


def test_trailing_newline():
    v = check("katya", RAW + b"\n", katya(RAW))
    assert "the body without its trailing newline" in joined(v)
    v = check("katya", RAW, katya(RAW + b"\n"))
    assert "the body with a trailing newline added" in joined(v)


@pytest.mark.parametrize("scheme", ["katya", "github", "stripe", "slack", "shopify", "job"])
def test_reserialisation_diagnosis_for_other_schemes(scheme):
    compact = json.dumps(OBJ, separators=(",", ":"), ensure_ascii=False).encode()
    s = sign(scheme, compact, "k", timestamp=TS)
    v = check(scheme, RAW, s.headers)
    assert v.status == "invalid"
    assert "re-serialised as compact JSON (JSON.stringify's bytes)" in joined(v)


def test_admin_reports_reserialisations_other_than_its_canonical_form():
    signed_bytes = json.dumps(OBJ, separators=(",", ":"), ensure_ascii=False).encode()
    headers = [("X-Webhook-Signature", "sha256=" + hexmac(b"k", signed_bytes))]
    v = check("admin", RAW, headers)
    assert v.status == "invalid"
    assert "compact JSON (JSON.stringify's bytes) with secret #1, not the raw body" in joined(v)


def test_wazzup_reserialisation_diagnosis():
    obj = {"event": "message", "data": {"text": "Привет"}}
    wrong = json.dumps(obj).encode()  # sender signed Python defaults, not compact
    body = json.dumps({**obj, "signature": "sha256=" + hexmac(b"k", wrong)}).encode()
    v = check("wazzup", body, [])
    assert v.status == "invalid"
    assert "Python json.dumps defaults" in joined(v)
    assert "not the body without its signature field, as compact JSON" in joined(v)


@pytest.mark.parametrize("padded", [" k", "k ", "k\n", "\tk\t"])
def test_secret_with_surrounding_whitespace(padded):
    v = check("katya", RAW, katya(RAW), secrets=[padded])
    assert v.status == "invalid"
    assert "secret #1 has surrounding whitespace" in v.diagnosis
    assert "the signature matches secret #1 with its surrounding whitespace removed" in v.diagnosis


def test_whitespace_fact_without_a_match_is_still_reported_but_no_match_claimed():
    v = check("katya", RAW, katya(RAW, secret=b"other"), secrets=["k "])
    assert "secret #1 has surrounding whitespace" in v.diagnosis
    assert not any("whitespace removed" in d for d in v.diagnosis)


@pytest.mark.parametrize(
    ("scheme", "secret", "pasted"),
    [("standard", WHSEC, "v1,"), ("github", "k", "sha256="), ("slack", "k", "v0="), ("stripe", WHSEC, "v1=")],
)
def test_prefix_pasted_with_the_secret(scheme, secret, pasted):
    s = sign(scheme, RAW, secret, timestamp=TS)
    v = check(scheme, RAW, s.headers, secrets=[pasted + secret])
    assert v.status == "invalid"
    assert f"secret #1 starts with {pasted!r}: a signature prefix pasted with the secret" in v.diagnosis
    assert f"the signature matches secret #1 without the pasted {pasted!r}" in v.diagnosis


def test_standard_whsec_used_as_text_by_the_sender():
    content = f"msg_1.{TS}.".encode() + RAW
    sig = base64.b64encode(hmac.new(WHSEC.encode(), content, hashlib.sha256).digest()).decode()
    headers = [("webhook-id", "msg_1"), ("webhook-timestamp", str(TS)), ("webhook-signature", "v1," + sig)]
    v = check("standard", RAW, headers, secrets=[WHSEC])
    assert v.status == "invalid"
    assert "the signature matches secret #1 used as text, without base64-decoding it" in v.diagnosis


def test_standard_whsec_prefix_stripped_but_not_decoded():
    content = f"msg_1.{TS}.".encode() + RAW
    sig = base64.b64encode(hmac.new(WHSEC[6:].encode(), content, hashlib.sha256).digest()).decode()
    headers = [("webhook-id", "msg_1"), ("webhook-timestamp", str(TS)), ("webhook-signature", "v1," + sig)]
    v = check("standard", RAW, headers, secrets=[WHSEC])
    assert any("without its whsec_ prefix, used as text" in d for d in v.diagnosis)


def test_stripe_whsec_decoded_by_the_sender():
    key = base64.b64decode(WHSEC[6:])
    sig = hexmac(key, f"{TS}.".encode() + RAW)
    v = check("stripe", RAW, [("Stripe-Signature", f"t={TS},v1={sig}")], secrets=[WHSEC])
    assert v.status == "invalid"
    assert (
        "the signature matches secret #1 base64-decoded, but this scheme uses the whsec_ secret as is"
        in v.diagnosis
    )


def test_hex_where_base64_was_expected():
    v = check("shopify", RAW, [("X-Shopify-Hmac-Sha256", hexmac(b"k", RAW))])
    assert v.status == "malformed"
    assert "is hex where base64 was expected" in v.reason
    assert "read as hex, the signature itself matches secret #1" in v.diagnosis


def test_base64_where_hex_was_expected():
    sig = base64.b64encode(hmac.new(b"k", RAW, hashlib.sha256).digest()).decode()
    v = check("github", RAW, [("X-Hub-Signature-256", "sha256=" + sig)])
    assert v.status == "malformed"
    assert "is base64 where hex was expected" in v.reason
    assert "read as base64, the signature itself matches secret #1" in v.diagnosis


def test_hex_in_standard_webhooks():
    content = f"msg_1.{TS}.".encode() + RAW
    key = base64.b64decode(WHSEC[6:])
    headers = [
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", str(TS)),
        ("webhook-signature", "v1," + hexmac(key, content)),
    ]
    v = check("standard", RAW, headers, secrets=[WHSEC])
    assert v.status == "malformed"
    assert "read as hex, the signature itself matches secret #1" in v.diagnosis


def test_bad_base64_is_malformed_without_a_match_claim():
    v = check("shopify", RAW, [("X-Shopify-Hmac-Sha256", "not*base64")])
    assert v.status == "malformed"
    assert "not base64 of a SHA-256 digest" in v.reason
    assert not any("matches" in d for d in v.diagnosis)


def test_space_after_sha256_prefix():
    v = check(
        "katya", RAW, [("X-Katya-Signature", "sha256= " + hexmac(b"k", RAW)), ("X-Katya-Timestamp", str(TS))]
    )
    assert v.status == "malformed"
    assert v.reason == "a space after 'sha256=' in X-Katya-Signature"
    assert "the signature itself matches secret #1" in v.diagnosis


def test_missing_and_unexpected_prefixes():
    v = check("katya", RAW, [("X-Katya-Signature", hexmac(b"k", RAW)), ("X-Katya-Timestamp", str(TS))])
    assert (v.status, v.reason) == ("malformed", "X-Katya-Signature lacks the 'sha256=' prefix")
    v = check("job", RAW, [("X-Signature", "sha256=" + hexmac(b"k", RAW))])
    assert v.status == "malformed" and "bare hex" in v.reason
    assert "the signature itself matches secret #1" in v.diagnosis


def test_signature_of_another_endpoint_is_named():
    v = check(
        "katya",
        RAW,
        katya(RAW, secret=b"shop-secret"),
        other_endpoints={"billing": ["x"], "shop": ["shop-secret"]},
    )
    assert v.status == "invalid"
    assert any("matches a secret of endpoint 'shop'" in d for d in v.diagnosis)
    assert not any("'billing'" in d for d in v.diagnosis)
    assert "shop-secret" not in json.dumps(v.to_dict())


@pytest.mark.parametrize(
    ("now", "way", "cause"), [(TS + 400, "past", "behind"), (TS - 400, "future", "ahead")]
)
def test_clock_skew_with_direction(now, way, cause):
    v = check("katya", RAW, katya(RAW), now=now)
    assert v.status == "stale"
    assert v.skew_s == now - TS
    line = v.diagnosis[0]
    assert line.startswith(f"clock skew of 400 s: the timestamp is 400 s in the {way} (window 300 s)")
    assert cause in line


def test_skew_is_reported_alongside_an_invalid_signature():
    v = check("katya", RAW, katya(b"other"), now=TS + 1000)
    assert v.status == "invalid"
    assert any(d.startswith("clock skew of 1000 s") for d in v.diagnosis)


def test_milliseconds_timestamp():
    v = check("katya", RAW, katya(RAW, ts=TS * 1000))
    assert v.status == "stale"
    assert "the timestamp has 13 digits: milliseconds where seconds are expected" in v.diagnosis


def test_headers_read_and_missing():
    v = check("katya", RAW, [("X-Katya-Signature", "sha256=" + hexmac(b"k", RAW))])
    assert v.status == "missing"
    assert v.reason == "missing X-Katya-Timestamp"
    assert v.headers_read == ["X-Katya-Signature"]
    assert "read: X-Katya-Signature" in v.diagnosis
    assert "missing: X-Katya-Timestamp, X-Katya-Delivery (optional)" in v.diagnosis


def test_standard_missing_headers():
    v = check("standard", RAW, [("webhook-signature", "v1,xxx")], secrets=[WHSEC])
    assert v.status == "missing"
    assert "webhook-id" in v.reason and "webhook-timestamp" in v.reason


def test_repeated_timestamp_with_different_values_is_malformed():
    headers = katya(RAW) + [("X-Katya-Timestamp", str(TS + 1))]
    v = check("katya", RAW, headers)
    assert v.status == "malformed"
    assert "appears 2 times with different values" in v.reason


def test_valid_verdicts_have_no_diagnosis_and_failures_only_true_findings():
    v = check("katya", RAW, katya(RAW))
    assert v.status == "valid" and v.diagnosis == []
    v = check("katya", RAW, katya(RAW, secret=b"zzz"))
    text = joined(v)
    for false_claim in (
        "whitespace",
        "re-serialised",
        "prefix",
        "endpoint",
        "clock skew",
        "hex where",
        "whsec",
    ):
        assert false_claim not in text
    assert "no configured secret, secret variant or re-serialisation reproduces the signature" in text


def test_unusable_secret_is_noted():
    s = sign("standard", RAW, WHSEC, timestamp=TS)
    v = check("standard", RAW, s.headers, secrets=["not base64!", WHSEC])
    assert v.status == "valid" and v.secret == "#2"
    v = check("standard", RAW, s.headers, secrets=["not base64!"])
    assert v.status == "invalid"
    assert "no configured secret is usable" in v.reason
    assert any("secret #1 is unusable here" in d for d in v.diagnosis)
