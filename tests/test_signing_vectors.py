"""Published test vectors, recomputed by sign() and accepted by verify()."""

from katya_tui.core.signing import sign, verify

STD_KEY = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STD_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STD_TS = 1614265330
STD_BODY = b'{"test": 2432232314}'
STD_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

GH_SECRET = "It's a Secret to Everybody"
GH_SIG = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# Slack's documented example request.
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TS = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_standard_webhooks_vector_signs():
    signed = sign("standard", STD_BODY, STD_KEY, timestamp=STD_TS, msg_id=STD_ID)
    assert signed.headers == [
        ("webhook-id", STD_ID),
        ("webhook-timestamp", str(STD_TS)),
        ("webhook-signature", STD_SIG),
    ]
    assert signed.body == STD_BODY


def test_standard_webhooks_vector_verifies():
    headers = [("webhook-id", STD_ID), ("webhook-timestamp", str(STD_TS)), ("webhook-signature", STD_SIG)]
    v = verify("standard", body=STD_BODY, headers=headers, secrets=[STD_KEY], now=STD_TS)
    assert v.status == "valid"
    assert v.secret == "#1"
    assert v.msg_id == STD_ID
    assert v.expected == STD_SIG


def test_standard_vector_under_svix_header_names():
    headers = [("svix-id", STD_ID), ("svix-timestamp", str(STD_TS)), ("svix-signature", STD_SIG)]
    v = verify("standard", body=STD_BODY, headers=headers, secrets=[STD_KEY], now=STD_TS + 10)
    assert v.status == "valid"
    assert v.headers_read == ["svix-id", "svix-timestamp", "svix-signature"]


def test_github_vector():
    signed = sign("github", b"Hello, World!", GH_SECRET, msg_id="d-1")
    assert signed.headers == [("X-Hub-Signature-256", GH_SIG), ("X-GitHub-Delivery", "d-1")]
    v = verify("github", body=b"Hello, World!", headers=signed.headers, secrets=[GH_SECRET], now=0)
    assert v.status == "valid"
    assert v.msg_id == "d-1"


def test_slack_vector():
    signed = sign("slack", SLACK_BODY, SLACK_SECRET, timestamp=SLACK_TS)
    assert signed.headers == [("X-Slack-Signature", SLACK_SIG), ("X-Slack-Request-Timestamp", str(SLACK_TS))]
    v = verify("slack", body=SLACK_BODY, headers=signed.headers, secrets=[SLACK_SECRET], now=SLACK_TS)
    assert v.status == "valid"
