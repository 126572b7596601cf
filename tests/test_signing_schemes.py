"""Every scheme: round trip, tampering, secrets, windows, timestamps, odd bodies, several signatures, ids."""

import base64
import json

import pytest

from katya_tui.core.signing import SCHEMES, Signed, SigningConfigError, sign, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # valid for standard, used as text by the others
OTHER = "whsec_dGhpcyBpcyBhbm90aGVyIGtleSBvZiAzMiBieXRlcyE="
BODY = b'{"id":"evt_1","type":"message.created","data":{"text":"hello"}}'
TS = 1_700_000_000
SIG_HEADER = {
    "katya": "X-Katya-Signature",
    "admin": "X-Webhook-Signature",
    "job": "X-Signature",
    "standard": "webhook-signature",
    "stripe": "Stripe-Signature",
    "github": "X-Hub-Signature-256",
    "shopify": "X-Shopify-Hmac-Sha256",
    "slack": "X-Slack-Signature",
}
TS_SCHEMES = {"katya": "both", "standard": "both", "slack": "both", "stripe": "past"}
TS_HEADER = {
    "katya": "X-Katya-Timestamp",
    "standard": "webhook-timestamp",
    "slack": "X-Slack-Request-Timestamp",
}
ID_SCHEMES = ("katya", "standard", "github", "shopify", "stripe")
ZERO_HEX = "0" * 64
ZERO_B64 = base64.b64encode(bytes(32)).decode()


def signed(scheme, body=BODY, secret=SECRET, ts=TS, msg_id="id-1"):
    s = sign(scheme, body, secret, timestamp=ts, msg_id=msg_id)
    return s.body, list(s.headers)


def check(scheme, body, headers, secrets=(SECRET,), now=TS, **kw):
    return verify(scheme, body=body, headers=headers, secrets=list(secrets), now=now, **kw)


def get_sig(scheme, body, headers):
    if scheme == "wazzup":
        return json.loads(body)["signature"]
    return dict(headers)[SIG_HEADER[scheme]]


def set_sig(scheme, body, headers, value):
    if scheme == "wazzup":
        obj = json.loads(body)
        obj["signature"] = value
        return json.dumps(obj, separators=(",", ":")).encode(), headers
    name = SIG_HEADER[scheme]
    return body, [(n, value if n == name else v) for n, v in headers]


def set_header(headers, name, value):
    return [(n, value if n == name else v) for n, v in headers]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_round_trip(scheme):
    body, headers = signed(scheme)
    v = check(scheme, body, headers)
    assert v.status == "valid", v.reason
    assert v.scheme == scheme
    assert v.secret == "#1"
    assert v.diagnosis == []
    assert v.expected is not None
    assert SECRET not in json.dumps(v.to_dict())


@pytest.mark.parametrize("scheme", SCHEMES)
def test_sign_returns_signed_and_only_wazzup_changes_body(scheme):
    s = sign(scheme, BODY, SECRET, timestamp=TS, msg_id="id-1")
    assert isinstance(s, Signed)
    if scheme == "wazzup":
        obj = json.loads(s.body)
        assert obj["signature"].startswith("sha256=")
        assert list(obj)[-1] == "signature"
        assert s.headers == []
    else:
        assert s.body == BODY
        assert SIG_HEADER[scheme] in dict(s.headers)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_rotation_names_the_matching_secret_by_label(scheme):
    body, headers = signed(scheme)
    v = check(scheme, body, headers, secrets=[("old", OTHER), ("new", SECRET)])
    assert (v.status, v.secret) == ("valid", "new")
    v = check(scheme, body, headers, secrets=[OTHER, SECRET])
    assert (v.status, v.secret) == ("valid", "#2")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_flipped_body_byte_is_invalid(scheme):
    body, headers = signed(scheme)
    tampered = body.replace(b"hello", b"hellp")
    assert tampered != body
    v = check(scheme, tampered, headers)
    assert v.status == "invalid"
    assert v.secret is None
    assert any("reproduces the signature" in line for line in v.diagnosis)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_wrong_secret_is_invalid(scheme):
    body, headers = signed(scheme)
    v = check(scheme, body, headers, secrets=[OTHER])
    assert v.status == "invalid"
    assert "none of the 1 configured secret" in v.reason
    assert v.expected != get_sig(scheme, body, headers)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("secret", ["", "   ", "\t\n"])
def test_empty_secret_is_a_configuration_error(scheme, secret):
    with pytest.raises(SigningConfigError):
        sign(scheme, BODY, secret)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_empty_secrets_in_verify_are_ignored_and_reported(scheme):
    body, headers = signed(scheme)
    v = check(scheme, body, headers, secrets=["", "  "])
    assert v.status == "unsigned"
    assert "secret #1 is empty and was ignored" in v.diagnosis


def test_unknown_scheme_and_auto_are_configuration_errors():
    with pytest.raises(SigningConfigError):
        sign("nope", BODY, SECRET)
    with pytest.raises(SigningConfigError):
        sign("auto", BODY, SECRET)
    with pytest.raises(SigningConfigError):
        verify("nope", body=BODY, headers=[], secrets=[SECRET], now=0)


def test_standard_secret_must_be_base64():
    with pytest.raises(SigningConfigError):
        sign("standard", BODY, "not base64!")


def test_wazzup_signs_only_json_objects():
    with pytest.raises(SigningConfigError):
        sign("wazzup", b"[1, 2]", SECRET)
    with pytest.raises(SigningConfigError):
        sign("wazzup", b"\xff\xfe", SECRET)


@pytest.mark.parametrize("scheme", TS_SCHEMES)
@pytest.mark.parametrize("direction", [1, -1])
def test_window_boundary(scheme, direction):
    body, headers = signed(scheme)
    at = check(scheme, body, headers, now=TS + direction * 300)
    assert at.status == "valid"
    assert at.skew_s == direction * 300
    past = check(scheme, body, headers, now=TS + direction * 301)
    if direction == -1 and TS_SCHEMES[scheme] == "past":
        assert past.status == "valid"  # stripe: only the past is limited
    else:
        assert past.status == "stale"
        assert past.skew_s == direction * 301
        assert past.secret == "#1"  # authentic but stale, told apart from forged
        way = "past" if direction == 1 else "future"
        assert any(f"clock skew of 301 s: the timestamp is 301 s in the {way}" in d for d in past.diagnosis)


@pytest.mark.parametrize("scheme", TS_SCHEMES)
def test_custom_tolerance(scheme):
    body, headers = signed(scheme)
    assert check(scheme, body, headers, now=TS + 10, tolerance_s=10).status == "valid"
    assert check(scheme, body, headers, now=TS + 11, tolerance_s=10).status == "stale"


@pytest.mark.parametrize("scheme", sorted(set(SCHEMES) - set(TS_SCHEMES)))
def test_schemes_without_timestamps_have_no_window(scheme):
    body, headers = signed(scheme)
    v = check(scheme, body, headers, now=TS + 10**6)
    assert v.status == "valid"
    assert v.timestamp is None and v.skew_s is None


@pytest.mark.parametrize("scheme", TS_SCHEMES)
@pytest.mark.parametrize("bad", ["1.5", "-1", "nan", " 123", "", "1e9", "12a", "١٢٣"])
def test_malformed_timestamps(scheme, bad):
    body, headers = signed(scheme)
    if scheme == "stripe":
        hexsig = get_sig(scheme, body, headers).split("v1=")[1]
        headers = [("Stripe-Signature", f"t={bad},v1={hexsig}")]
    else:
        headers = set_header(headers, TS_HEADER[scheme], bad)
    v = check(scheme, body, headers)
    assert v.status == "malformed", (bad, v.reason)
    assert "Unix time" in v.reason
    assert v.timestamp is None


@pytest.mark.parametrize("scheme", TS_SCHEMES)
def test_timestamp_that_is_signed_cannot_be_edited(scheme):
    body, headers = signed(scheme)
    if scheme == "stripe":
        hexsig = get_sig(scheme, body, headers).split("v1=")[1]
        headers = [("Stripe-Signature", f"t={TS + 5},v1={hexsig}")]
    else:
        headers = set_header(headers, TS_HEADER[scheme], str(TS + 5))
    v = check(scheme, body, headers)
    # katya does not sign its timestamp (seed 000); the others do
    assert v.status == ("valid" if scheme == "katya" else "invalid")


@pytest.mark.parametrize("scheme", sorted(set(SCHEMES) - {"wazzup"}))
def test_non_utf8_bodies_round_trip(scheme):
    body = b"\xff\xfe\x00\x80 not utf-8 \xc3("
    _, headers = signed(scheme, body=body)
    assert check(scheme, body, headers).status == "valid"
    assert check(scheme, body + b"\x00", headers).status == "invalid"


@pytest.mark.parametrize("body", [b"\xff\xfe\x00\x80", b"not json", b"[1,2]", b"", b'{"a":1}'])
def test_wazzup_without_a_signature_field_is_missing(body):
    v = check("wazzup", body, [])
    assert v.status == "missing"
    assert "body field 'signature'" in v.reason


def test_wazzup_signature_field_must_be_a_string():
    v = check("wazzup", b'{"a":1,"signature":["sha256=00"]}', [])
    assert v.status == "malformed"
    assert "not a string" in v.reason


def test_wazzup_signature_position_does_not_matter():
    body, _ = signed("wazzup")
    obj = json.loads(body)
    moved = {"signature": obj.pop("signature"), **obj}
    assert check("wazzup", json.dumps(moved, separators=(",", ":")).encode(), []).status == "valid"
    # the signed content is the re-serialised object, so the received spacing does not matter
    assert check("wazzup", json.dumps(moved, indent=2).encode(), []).status == "valid"
    moved["data"] = {"text": "hellp"}
    assert check("wazzup", json.dumps(moved).encode(), []).status == "invalid"


SEVERAL = {
    "katya": ("{good},sha256=" + ZERO_HEX, "malformed"),
    "admin": ("{good},sha256=" + ZERO_HEX, "malformed"),
    "job": ("{good} " + ZERO_HEX, "malformed"),
    "wazzup": ("{good},sha256=" + ZERO_HEX, "malformed"),
    "standard": ("v1," + ZERO_B64 + " {good}", "valid"),
    "stripe": ("t={ts},v1=" + ZERO_HEX + ",v1={hexsig}", "valid"),
    "github": ("{good}, sha256=" + ZERO_HEX, "malformed"),
    "shopify": ("{good}," + ZERO_B64, "malformed"),
    "slack": ("{good},v0=" + ZERO_HEX, "malformed"),
}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_several_signatures_in_one_header(scheme):
    body, headers = signed(scheme)
    good = get_sig(scheme, body, headers)
    template, expected = SEVERAL[scheme]
    hexsig = good.split("v1=")[-1]
    body, headers = set_sig(scheme, body, headers, template.format(good=good, ts=TS, hexsig=hexsig))
    v = check(scheme, body, headers)
    assert v.status == expected, v.reason
    if expected == "malformed":
        assert "2 signatures" in v.reason


@pytest.mark.parametrize("scheme", ["standard", "stripe"])
def test_several_signatures_none_matching_is_invalid(scheme):
    body, headers = signed(scheme)
    value = f"v1,{ZERO_B64} v1,{ZERO_B64}" if scheme == "standard" else f"t={TS},v1={ZERO_HEX},v1={ZERO_HEX}"
    body, headers = set_sig(scheme, body, headers, value)
    assert check(scheme, body, headers).status == "invalid"


def test_repeated_single_signature_header_counts_as_several():
    body, headers = signed("github")
    v = check("github", body, headers + [headers[0]])
    assert v.status == "malformed"


UNKNOWN = {
    "katya": ("sha512=" + ZERO_HEX, "missing"),
    "admin": ("sha1=" + ZERO_HEX[:40], "missing"),
    "job": ("v2=" + ZERO_HEX, "malformed"),
    "wazzup": ("sha512=" + ZERO_HEX, "missing"),
    "standard": ("v2,abc v1a,def", "missing"),
    "stripe": ("t={ts},v9=" + ZERO_HEX, "missing"),
    "github": ("sha1=" + ZERO_HEX[:40], "missing"),
    "shopify": ("v2=" + ZERO_B64, "malformed"),
    "slack": ("v1=" + ZERO_HEX, "missing"),
}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_only_unknown_versions(scheme):
    body, headers = signed(scheme)
    template, expected = UNKNOWN[scheme]
    body, headers = set_sig(scheme, body, headers, template.format(ts=TS))
    v = check(scheme, body, headers)
    assert v.status == expected, v.reason
    if expected == "missing":
        assert "unknown" in v.reason or "unsupported" in v.reason or "no v1" in v.reason


def test_stripe_v0_only_is_refused_as_a_downgrade():
    body, headers = signed("stripe")
    hexsig = get_sig("stripe", body, headers).split("v1=")[1]
    v = check("stripe", body, [("Stripe-Signature", f"t={TS},v0={hexsig}")])
    assert v.status == "invalid"
    assert "downgrade" in v.reason


@pytest.mark.parametrize("scheme", ID_SCHEMES)
def test_repeated_id_is_duplicate(scheme):
    body, headers = signed(scheme, msg_id="dup-7")
    expected_id = "evt_1" if scheme == "stripe" else "dup-7"
    asked = []

    def seen(i):
        asked.append(i)
        return True

    v = check(scheme, body, headers, seen_ids=seen)
    assert v.status == "duplicate"
    assert v.msg_id == expected_id and asked == [expected_id]
    assert v.secret == "#1"
    fresh = check(scheme, body, headers, seen_ids=lambda i: False)
    assert fresh.status == "valid" and fresh.msg_id == expected_id


@pytest.mark.parametrize("scheme", sorted(set(SCHEMES) - set(ID_SCHEMES)))
def test_schemes_without_ids_never_report_duplicates(scheme):
    body, headers = signed(scheme)
    v = check(scheme, body, headers, seen_ids=lambda i: True)
    assert v.status == "valid"
    assert v.msg_id is None


@pytest.mark.parametrize("scheme", SCHEMES)
def test_order_of_checks_forged_and_stale_is_invalid(scheme):
    body, headers = signed(scheme)
    v = check(scheme, body, headers, secrets=[OTHER], now=TS + 10_000, seen_ids=lambda i: True)
    assert v.status == "invalid"  # the signature is checked before the timestamp and the id


@pytest.mark.parametrize("scheme", SCHEMES)
def test_stale_is_reported_before_duplicate(scheme):
    body, headers = signed(scheme)
    v = check(scheme, body, headers, now=TS + 10_000, seen_ids=lambda i: True)
    expected = "stale" if scheme in TS_SCHEMES else ("duplicate" if scheme in ID_SCHEMES else "valid")
    assert v.status == expected


@pytest.mark.parametrize("scheme", SCHEMES)
def test_missing_signature(scheme):
    if scheme == "wazzup":
        v = check(scheme, BODY, [])
    else:
        _, headers = signed(scheme)
        headers = [(n, v) for n, v in headers if n != SIG_HEADER[scheme]]
        v = check(scheme, BODY, headers)
    assert v.status == "missing"
    assert v.scheme == scheme


@pytest.mark.parametrize("scheme", SCHEMES)
def test_header_lookup_is_case_insensitive(scheme):
    body, headers = signed(scheme)
    assert check(scheme, body, [(n.upper(), v) for n, v in headers]).status == "valid"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_verify_does_not_mutate_its_arguments(scheme):
    body, headers = signed(scheme)
    secrets = [("a", OTHER), ("b", SECRET)]
    others = {"shop": [SECRET]}
    snapshot = (list(headers), list(secrets), {"shop": [SECRET]})
    check(scheme, body, headers, secrets=secrets, other_endpoints=others, now=TS + 999)
    assert (headers, secrets, others) == snapshot


def test_sign_defaults_timestamp_from_now_and_fresh_ids():
    a = dict(sign("katya", BODY, SECRET, now=1234.9).headers)
    b = dict(sign("katya", BODY, SECRET, now=1234.9).headers)
    assert a["X-Katya-Timestamp"] == "1234"
    assert a["X-Katya-Delivery"] != b["X-Katya-Delivery"]
    assert dict(sign("standard", BODY, SECRET).headers)["webhook-id"].startswith("msg_")


def test_admin_signs_the_canonical_form_and_says_which_matched():
    body = b'{"b": 1, "a": "\xc3\xa9"}'
    s = sign("admin", body, SECRET)
    v = check("admin", body, s.headers)
    assert v.status == "valid"
    assert "canonical form json.dumps(payload, sort_keys=True)" in v.reason
    canonical = json.dumps(json.loads(body), sort_keys=True).encode()
    v = check("admin", canonical, s.headers)
    assert v.status == "valid"
    assert "the raw body" in v.reason


def test_admin_non_json_body_signs_raw_bytes():
    s = sign("admin", b"\xff plain", SECRET)
    v = check("admin", b"\xff plain", s.headers)
    assert v.status == "valid" and "raw body" in v.reason
