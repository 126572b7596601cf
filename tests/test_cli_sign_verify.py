"""The ``sign`` and ``verify`` commands, driven through click's CliRunner."""

import json

import pytest
from click.testing import CliRunner

from katya_tui.commands.sign_verify import sign, verify

BODY = '{"id": "evt_1", "type": "message.created", "data": {"text": "Привет"}}'.encode()
TS = 1_700_000_000


@pytest.fixture
def body_file(tmp_path):
    path = tmp_path / "body.json"
    path.write_bytes(BODY)
    return str(path)


def run(cmd, args, input=None):
    return CliRunner().invoke(cmd, args, input=input)


def header_args(output):
    return [a for line in output.splitlines() if line for a in ("--header", line)]


def test_sign_prints_header_lines(body_file):
    r = run(sign, ["--scheme", "katya", "--secret", "k", "--timestamp", str(TS), "--id", "d1", body_file])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("X-Katya-Signature: sha256=")
    assert lines[1:] == [f"X-Katya-Timestamp: {TS}", "X-Katya-Delivery: d1"]


def test_sign_then_verify_round_trip_via_stdin():
    r = run(
        sign, ["--scheme", "github", "--secret", "It's a Secret to Everybody", "-"], input=b"Hello, World!"
    )
    assert (
        "X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        in r.output
    )
    args = ["--secret", "It's a Secret to Everybody", *header_args(r.output), "-"]
    v = run(verify, args, input=b"Hello, World!")
    assert v.exit_code == 0, v.output
    assert v.output.splitlines()[:3] == [
        "verdict: valid",
        "scheme: github",
        "reason: the signature matches the raw body with secret #1",
    ]
    assert "secret: #1" in v.output


def test_sign_json(body_file):
    r = run(
        sign,
        [
            "--scheme",
            "standard",
            "--secret",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "--timestamp",
            "1614265330",
            "--id",
            "msg_1",
            "--json",
            body_file,
        ],
    )
    out = json.loads(r.output)
    assert out["scheme"] == "standard"
    assert [h[0] for h in out["headers"]] == ["webhook-id", "webhook-timestamp", "webhook-signature"]
    assert "body" not in out


def test_sign_wazzup_prints_the_new_body(body_file):
    r = run(sign, ["--scheme", "wazzup", "--secret", "k", body_file])
    assert r.exit_code == 0
    signed = json.loads(r.output_bytes)
    assert signed["signature"].startswith("sha256=")
    v = run(verify, ["--scheme", "wazzup", "--secret", "k", "-"], input=r.output_bytes)
    assert v.exit_code == 0 and "verdict: valid" in v.output
    j = json.loads(run(sign, ["--scheme", "wazzup", "--secret", "k", "--json", body_file]).output)
    assert j["headers"] == [] and json.loads(j["body"])["signature"] == signed["signature"]


@pytest.mark.parametrize("secret", ["", "  "])
def test_sign_empty_secret_is_a_usage_error(body_file, secret):
    r = run(sign, ["--scheme", "katya", "--secret", secret, body_file])
    assert r.exit_code == 2
    assert "the secret is empty" in r.output


def test_sign_unknown_scheme_is_a_usage_error(body_file):
    assert run(sign, ["--scheme", "nope", "--secret", "k", body_file]).exit_code == 2


def test_verify_explains_a_reserialised_body(body_file):
    # the sender signed JSON.stringify's compact bytes; the file holds the pretty original
    compact = json.dumps(json.loads(BODY), separators=(",", ":"), ensure_ascii=False).encode()
    s = run(sign, ["--scheme", "katya", "--secret", "k", "--timestamp", str(TS), "-"], input=compact)
    r = run(
        verify, ["--scheme", "katya", "--secret", "k", "--now", str(TS), *header_args(s.output), body_file]
    )
    assert r.exit_code == 1
    assert "verdict: invalid" in r.output
    assert "diagnosis:" in r.output
    assert "the signature matches the body re-serialised as compact JSON (JSON.stringify's bytes)" in r.output


def test_verify_auto_json_and_rotation(body_file):
    s = run(sign, ["--scheme", "slack", "--secret", "new", "--timestamp", str(TS), body_file])
    r = run(
        verify,
        [
            "--secret",
            "old",
            "--secret",
            "new",
            "--now",
            str(TS + 10),
            "--json",
            *header_args(s.output),
            body_file,
        ],
    )
    assert r.exit_code == 0
    d = json.loads(r.output)
    assert (d["status"], d["scheme"], d["secret"], d["skew_s"]) == ("valid", "slack", "#2", 10)
    assert "new" not in json.dumps(d["diagnosis"]) and "old" not in r.output


def test_verify_stale_with_tolerance(body_file):
    s = run(sign, ["--scheme", "katya", "--secret", "k", "--timestamp", str(TS), body_file])
    args = ["--secret", "k", *header_args(s.output), body_file]
    assert run(verify, [*args, "--now", str(TS + 60), "--tolerance", "60"]).exit_code == 0
    r = run(verify, [*args, "--now", str(TS + 61), "--tolerance", "60"])
    assert r.exit_code == 1
    assert "verdict: stale" in r.output and "clock skew of 61 s" in r.output


def test_verify_other_endpoint(body_file):
    s = run(sign, ["--scheme", "job", "--secret", "shop-secret", body_file])
    r = run(
        verify,
        [
            "--scheme",
            "job",
            "--secret",
            "k",
            "--other-endpoint",
            "shop=shop-secret",
            *header_args(s.output),
            body_file,
        ],
    )
    assert r.exit_code == 1
    assert "matches a secret of endpoint 'shop'" in r.output
    assert "shop-secret" not in r.output


def test_verify_without_secret_is_unsigned(body_file):
    s = run(sign, ["--scheme", "shopify", "--secret", "k", body_file])
    r = run(verify, [*header_args(s.output), body_file])
    assert r.exit_code == 1
    assert "verdict: unsigned" in r.output and "scheme: shopify" in r.output
    assert "--secret" in r.output
    assert "shopify signature present in X-Shopify-Hmac-Sha256" in r.output


@pytest.mark.parametrize(
    "bad",
    [
        ["--header", "no colon"],
        ["--header", ": value"],
        ["--other-endpoint", "x"],
        ["--scheme", "nope"],
        ["--tolerance", "-1"],
    ],
)
def test_verify_usage_errors_exit_2(body_file, bad):
    assert run(verify, ["--secret", "k", *bad, body_file]).exit_code == 2


def test_verify_missing_file_is_a_usage_error():
    assert run(verify, ["--secret", "k", "/nonexistent/file"]).exit_code == 2
