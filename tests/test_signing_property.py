"""Property tests: random bytes and headers always give a verdict, never an exception."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katya_tui.core.signing import SCHEMES, Verdict, get, sign, verify
from katya_tui.core.signing._engine import _plain, _usual, verify_one
from katya_tui.core.signing.verdict import STATUSES

NAMES = [
    "X-Katya-Signature",
    "X-Katya-Timestamp",
    "X-Katya-Delivery",
    "X-Webhook-Signature",
    "X-Signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "Stripe-Signature",
    "X-Hub-Signature-256",
    "X-GitHub-Delivery",
    "X-Shopify-Hmac-Sha256",
    "X-Shopify-Webhook-Id",
    "X-Slack-Signature",
    "X-Slack-Request-Timestamp",
]
HEXISH = st.text("0123456789abcdefABCDEF", min_size=0, max_size=70)
B64ISH = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=50)
VALUES = st.one_of(
    st.text(max_size=80),
    HEXISH,
    st.builds(
        lambda p, s: p + s, st.sampled_from(["sha256=", "sha256= ", "v0=", "v1,", "sha1=", "t=1,v1="]), HEXISH
    ),
    st.builds(lambda a, b: f"t={a},v1={b},v0={b}", st.text("0123456789.- n", max_size=12), HEXISH),
    st.builds(lambda a, b: f"v1,{a} v2,{b} junk", B64ISH, B64ISH),
    st.integers(-10, 10**13).map(str),
)
HEADERS = st.lists(st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=20)), VALUES), max_size=8)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c, max_size=4)),
    max_leaves=12,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSONISH.map(lambda o: json.dumps(o).encode()),
    st.dictionaries(st.text(max_size=8), JSONISH, max_size=4).map(
        lambda d: json.dumps({**d, "signature": "sha256=" + "0" * 64}).encode()
    ),
)
SECRETS = st.lists(
    st.one_of(st.text(max_size=20), st.tuples(st.text(max_size=5), st.text(max_size=20))), max_size=3
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=st.sampled_from(("auto", *SCHEMES)),
    body=BODIES,
    headers=HEADERS,
    secrets=SECRETS,
    now=st.integers(0, 2**40),
    tolerance=st.integers(0, 10_000),
    others=st.dictionaries(st.text(max_size=5), st.lists(st.text(max_size=10), max_size=2), max_size=2),
    seen=st.booleans(),
)
def test_random_requests_always_get_a_verdict(scheme, body, headers, secrets, now, tolerance, others, seen):
    v = verify(
        scheme,
        body=body,
        headers=headers,
        secrets=secrets,
        now=now,
        tolerance_s=tolerance,
        seen_ids=lambda i: seen,
        other_endpoints=others,
    )
    assert isinstance(v, Verdict)
    assert v.status in STATUSES
    assert v.reason and "\n" not in v.reason
    assert all(isinstance(line, str) for line in v.diagnosis)
    assert (v.diagnosis == []) == (v.status == "valid")
    assert Verdict.from_dict(json.loads(json.dumps(v.to_dict()))) == v
    if scheme != "auto":
        assert v.scheme == scheme


@settings(max_examples=150, deadline=None)
@given(
    scheme=st.sampled_from([s for s in SCHEMES if s != "wazzup"]),
    body=st.binary(max_size=200),
    ts=st.integers(0, 2**34),
    msg_id=st.text(min_size=1, max_size=20),
)
def test_any_body_round_trips(scheme, body, ts, msg_id):
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    s = sign(scheme, body, secret, timestamp=ts, msg_id=msg_id)
    v = verify(scheme, body=s.body, headers=s.headers, secrets=[secret], now=ts)
    assert v.status == "valid", v.reason


@settings(max_examples=150, deadline=None)
@given(obj=st.dictionaries(st.text(max_size=8), JSONISH, max_size=5), secret=st.text(min_size=1, max_size=20))
def test_wazzup_round_trips_any_object(obj, secret):
    if not secret.strip():
        return
    s = sign("wazzup", json.dumps(obj).encode(), secret)
    v = verify("wazzup", body=s.body, headers=[], secrets=[secret], now=0)
    assert v.status == "valid", v.reason


PLAIN = [s for s in SCHEMES if _plain(get(s))]
EDITS = st.lists(
    st.sampled_from(
        [
            "case",
            "pad",
            "repeat",
            "repeat-other",
            "drop",
            "upper-digest",
            "flip",
            "unprefixed",
            "extra",
            "blank-name",
            "ts-ms",
            "ts-sign",
        ]
    ),
    max_size=3,
)


def _edit(headers: list[list[str]], edit: str, data) -> None:
    i = data.draw(st.integers(0, max(0, len(headers) - 1)))
    if not headers and edit not in ("extra", "blank-name"):
        return
    name, value = headers[i] if headers else ("", "")
    if edit == "case":
        headers[i] = [name.swapcase(), value]
    elif edit == "pad":
        headers[i] = [f" {name}", f"{value} "]
    elif edit == "repeat":
        headers.append([name, value])
    elif edit == "repeat-other":
        headers.append([name, value + "0"])
    elif edit == "drop":
        del headers[i]
    elif edit == "upper-digest":
        headers[i] = [name, value.upper()]
    elif edit == "flip":
        headers[i] = [name, value[:-1] + ("0" if value[-1:] != "0" else "1")]
    elif edit == "unprefixed":
        headers[i] = [name, value.partition("=")[2] or value]
    elif edit == "extra":
        headers.append([data.draw(st.sampled_from(NAMES)), data.draw(VALUES)])
    elif edit == "blank-name":
        headers.append([" ", data.draw(VALUES)])
    elif edit == "ts-ms":
        headers[i] = [name, value + "000"]
    elif edit == "ts-sign":
        headers[i] = [name, f"+{value}"]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=st.sampled_from(PLAIN),
    body=BODIES,
    secrets=st.lists(
        st.sampled_from(["s3cret", "", "  ", "other-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]),
        min_size=1,
        max_size=3,
    ),
    signer=st.integers(0, 2),
    skew=st.sampled_from([0, 1, -1, 299, 300, 301, -301, 10**6]),
    tolerance=st.sampled_from([0, 300]),
    edits=EDITS,
    data=st.data(),
)
def test_the_usual_path_gives_the_full_verdict(scheme, body, secrets, signer, skew, tolerance, edits, data):
    """`_usual` answers the common valid request without the full flow: wherever it answers, its verdict is the
    full flow's, field for field (and it does answer the plain signed request)."""
    secret = secrets[min(signer, len(secrets) - 1)]
    ts = 1_700_000_000
    signed = sign(scheme, body, secret.strip() or "s3cret", timestamp=ts, msg_id="dlv_1")
    headers = [[k, v] for k, v in signed.headers]
    for edit in edits:
        _edit(headers, edit, data)
    now = ts + skew
    usual = _usual(get(scheme), body, headers, secrets, now, tolerance)
    full = verify_one(
        get(scheme), body, headers, secrets, now, tolerance, lambda _id: False, None
    )  # (the full flow)
    if usual is not None:
        assert usual.to_dict() == full.to_dict()
    elif not edits and secrets[0] == secret and secret.strip() and abs(skew) <= tolerance:
        pytest.fail(f"the usual path declined a plain signed request: {full.to_dict()}")
