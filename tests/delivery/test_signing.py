"""Standard Webhooks signatures, checked against the standardwebhooks package."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from worker.delivery import signing

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_event_signature_verifies_with_the_package() -> None:
    body = b'{"type":"invocation.succeeded"}'
    ts = int(time.time())
    signature = signing.sign_bytes(SECRET, "msg_1", ts, body)
    assert Webhook(SECRET).verify(body, signing.headers("msg_1", ts, signature)) == {
        "type": "invocation.succeeded"
    }


def test_streamed_signature_equals_the_package_signature() -> None:
    body = b"a,b\r\n" + "é,ü\r\n".encode() * 1000
    ts = int(time.time())
    streamed, length = signing.sign_chunks(SECRET, "msg_2", ts, [body[:7], body[7:4000], body[4000:]])
    assert length == len(body)
    assert streamed == signing.sign_bytes(SECRET, "msg_2", ts, body)
    Webhook(SECRET).verify(body, signing.headers("msg_2", ts, streamed), json_parse=False)


def test_tampered_body_does_not_verify() -> None:
    ts = int(time.time())
    signature, _ = signing.sign_chunks(SECRET, "msg_3", ts, [b"a,b\r\n"])
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(b"a,c\r\n", signing.headers("msg_3", ts, signature), json_parse=False)


def test_bare_base64_secret_is_accepted_like_the_package() -> None:
    bare = SECRET.removeprefix("whsec_")
    assert signing.secret_key(bare) == signing.secret_key(SECRET)
