"""SCRAM math and conversations against RFC 5802, RFC 7677 and the auth spec's worked
examples; SASLprep against RFC 4013's examples; the salted-password cache."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest

from driver.auth import Authenticator, MongoCredential
from driver.auth.saslprep import saslprep
from driver.auth.scram import (
    ScramClient,
    authenticate_scram,
    clear_key_cache,
    key_cache_size,
)
from driver.errors import ConfigurationError, OperationFailure

# RFC 5802 section 5 (SCRAM-SHA-1 with the plain password "pencil").
RFC5802_NONCE = "fyko+d2lbbFgONRv9qkxdawL"
RFC5802_SERVER_FIRST = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
RFC5802_CLIENT_FINAL = (
    b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
)
RFC5802_SERVER_FINAL = b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="

# The auth spec's SCRAM-SHA-1 example (MongoDB's MD5-digested password).
SPEC_SHA1_SERVER_FIRST = (
    b"r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,s=rQ9ZY3MntBeuP3E1TDVC4w==,i=10000"
)
SPEC_SHA1_CLIENT_FINAL = (
    b"c=biws,r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,"
    b"p=MC2T8BvbmWRckDw8oWl5IVghwCY="
)
SPEC_SHA1_SERVER_FINAL = b"v=UMWeI25JD1yNYZRMpZ4VHvhZ9e0="

# RFC 7677 section 3, which is also the auth spec's SCRAM-SHA-256 example.
RFC7677_NONCE = "rOprNGfwEbeRWgbNEkqO"
RFC7677_SERVER_FIRST = (
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
RFC7677_CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
RFC7677_SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_rfc5802_sha1_vector_with_plain_password() -> None:
    client = ScramClient("SCRAM-SHA-1", "user", "", nonce=RFC5802_NONCE,
                         prepared_password=b"pencil")
    assert client.client_first() == b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
    assert client.client_final(RFC5802_SERVER_FIRST) == RFC5802_CLIENT_FINAL
    client.verify_server_final(RFC5802_SERVER_FINAL)


def test_spec_sha1_example_uses_mongodb_password_digest() -> None:
    client = ScramClient("SCRAM-SHA-1", "user", "pencil", nonce=RFC5802_NONCE)
    assert client.client_final(SPEC_SHA1_SERVER_FIRST) == SPEC_SHA1_CLIENT_FINAL
    client.verify_server_final(SPEC_SHA1_SERVER_FINAL)


def test_rfc7677_sha256_vector() -> None:
    client = ScramClient("SCRAM-SHA-256", "user", "pencil", nonce=RFC7677_NONCE)
    assert client.client_first() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    assert client.client_final(RFC7677_SERVER_FIRST) == RFC7677_CLIENT_FINAL
    client.verify_server_final(RFC7677_SERVER_FINAL)


class ScriptedServer:
    """Replays the server side of a spec conversation and records the commands."""

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self.replies = replies
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def command(self, dbname: str, spec: Mapping[str, Any]) -> Mapping[str, Any]:
        self.sent.append((dbname, dict(spec)))
        reply = self.replies.pop(0)
        if not reply.get("ok"):
            raise OperationFailure(reply["errmsg"], reply.get("code"), reply)
        return reply


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def test_spec_sha256_conversation_over_mongodb_sasl() -> None:
    server = ScriptedServer([
        {"conversationId": 1, "done": False, "ok": 1, "payload": b64(
            "cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRrMCxzPVcyMlph"
            "SjBTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY=")},
        {"conversationId": 1, "done": True, "ok": 1, "payload": b64(
            "dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ==")},
    ])
    client = ScramClient("SCRAM-SHA-256", "user", "pencil", nonce=RFC7677_NONCE)
    authenticate_scram(server, client, "admin")
    (db1, start), (db2, cont) = server.sent
    assert (db1, db2) == ("admin", "admin")
    assert start["saslStart"] == 1 and start["mechanism"] == "SCRAM-SHA-256"
    assert start["options"] == {"skipEmptyExchange": True}
    assert base64.b64encode(start["payload"]) == b"biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8="
    assert cont["conversationId"] == 1
    assert base64.b64encode(cont["payload"]).decode() == (
        "Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhObEYkazAscD1k"
        "SHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ==")


def test_spec_sha1_long_conversation_with_extra_empty_round() -> None:
    server = ScriptedServer([
        {"conversationId": 1, "done": False, "ok": 1, "payload": SPEC_SHA1_SERVER_FIRST},
        {"conversationId": 1, "done": False, "ok": 1, "payload": SPEC_SHA1_SERVER_FINAL},
        {"conversationId": 1, "done": True, "ok": 1, "payload": b""},
    ])
    client = ScramClient("SCRAM-SHA-1", "user", "pencil", nonce=RFC5802_NONCE)
    authenticate_scram(server, client, "admin")
    assert base64.b64encode(server.sent[0][1]["payload"]) == (
        b"biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM")
    assert server.sent[2][1] == {"saslContinue": 1, "conversationId": 1, "payload": b""}


@pytest.mark.parametrize(
    ("server_first", "message"),
    [
        (b"r=fyko+d2lbbFgONRv9qkxdawLxyz,s=QSXCR+Q6sek8bf92,i=4095", "at least 4096"),
        (b"r=someoneelse,s=QSXCR+Q6sek8bf92,i=4096", "does not extend"),
        (b"r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096", "does not extend"),
        (b"m=ext,r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=4096", "mandatory extension"),
        (b"r=fyko+d2lbbFgONRv9qkxdawLx,i=4096", "lacks or garbles"),
        (b"garbage", "malformed"),
    ],
)
def test_hostile_server_first_messages(server_first: bytes, message: str) -> None:
    client = ScramClient("SCRAM-SHA-1", "user", "pencil", nonce=RFC5802_NONCE)
    with pytest.raises(OperationFailure, match=message):
        client.client_final(server_first)


def test_wrong_server_signature_is_refused() -> None:
    client = ScramClient("SCRAM-SHA-256", "user", "pencil", nonce=RFC7677_NONCE)
    client.client_final(RFC7677_SERVER_FIRST)
    with pytest.raises(OperationFailure, match="signature is wrong"):
        client.verify_server_final(b"v=" + base64.b64encode(b"x" * 32))
    with pytest.raises(OperationFailure, match="server reported invalid-proof"):
        client.verify_server_final(b"e=invalid-proof")


def test_user_names_are_escaped_not_saslprepped() -> None:
    client = ScramClient("SCRAM-SHA-256", "a=b,c\u2168", "pw", nonce="n0nce")
    assert client.client_first() == "n,,n=a=3Db=2Cc\u2168,r=n0nce".encode()


def test_salted_password_cache_is_keyed_by_password_salt_iterations() -> None:
    clear_key_cache()
    for _ in range(3):
        client = ScramClient("SCRAM-SHA-256", "user", "pencil", nonce=RFC7677_NONCE)
        assert client.client_final(RFC7677_SERVER_FIRST) == RFC7677_CLIENT_FINAL
    assert key_cache_size() == 1
    other = ScramClient("SCRAM-SHA-256", "user", "pencil2", nonce=RFC7677_NONCE)
    other.client_final(RFC7677_SERVER_FIRST)
    more_iterations = ScramClient("SCRAM-SHA-256", "user", "pencil", nonce=RFC7677_NONCE)
    more_iterations.client_final(RFC7677_SERVER_FIRST.replace(b"i=4096", b"i=5000"))
    assert key_cache_size() == 3


# --- SASLprep (RFC 4013 section 3 examples) ---------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("I\u00adX", "IX"),  # SOFT HYPHEN mapped to nothing
        ("user", "user"),
        ("USER", "USER"),  # case preserved
        ("\u00aa", "a"),  # FEMININE ORDINAL INDICATOR, NFKC
        ("\u2168", "IX"),  # ROMAN NUMERAL NINE, NFKC
        ("a\u00a0b", "a b"),  # non-ASCII space mapped to SPACE
        ("", ""),
    ],
)
def test_saslprep_rfc4013_examples(given: str, expected: str) -> None:
    assert saslprep(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("\u0007", "ASCII control character U\\+0007"),
        ("\u0627\u0031", "must start and end"),
        ("\u0627a\u0627", "mixes right-to-left"),
        ("a\ue000", "private use"),
        ("a\U000e0001", "tagging"),
    ],
)
def test_saslprep_prohibited_output(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        saslprep(given)


def test_sha256_passwords_are_saslprepped_and_errors_hide_the_password() -> None:
    # The auth spec's SASLprep test: "I\u00ADX" and "IX" are the same password.
    a = ScramClient("SCRAM-SHA-256", "IX", "I\u00adX", nonce="n")
    b = ScramClient("SCRAM-SHA-256", "IX", "IX", nonce="n")
    first = b"r=nXYZ,s=QSXCR+Q6sek8bf92,i=4096"
    assert a.client_final(first) == b.client_final(first)
    secret = "s3cret\u0007"
    with pytest.raises(ConfigurationError) as info:
        ScramClient("SCRAM-SHA-256", "u", secret)
    assert secret not in str(info.value) and "U+0007" not in str(info.value)
    # SCRAM-SHA-1 digests the password instead and does not SASLprep it.
    ScramClient("SCRAM-SHA-1", "u", secret)


# --- Mechanism negotiation and speculative fields ------------------------------------------


def test_negotiation_prefers_sha256_and_falls_back_to_sha1() -> None:
    auth = Authenticator(MongoCredential(None, "ada", "pw", "db1"))
    fields, scram = auth.handshake_fields()
    assert fields["saslSupportedMechs"] == "db1.ada"
    spec = fields["speculativeAuthenticate"]
    assert spec["mechanism"] == "SCRAM-SHA-256" and spec["db"] == "db1"
    assert scram is not None and scram.mechanism == "SCRAM-SHA-256"
    assert auth.negotiated_mechanism({"saslSupportedMechs": ["SCRAM-SHA-1", "SCRAM-SHA-256"]}) \
        == "SCRAM-SHA-256"
    assert auth.negotiated_mechanism({"saslSupportedMechs": ["SCRAM-SHA-1", "NEW-THING"]}) \
        == "SCRAM-SHA-1"
    assert auth.negotiated_mechanism({}) == "SCRAM-SHA-1"


def test_configured_mechanisms_and_sources() -> None:
    sha1 = Authenticator(MongoCredential("SCRAM-SHA-1", "ada", "pw", None))
    fields, _ = sha1.handshake_fields()
    assert "saslSupportedMechs" not in fields and sha1.source == "admin"
    assert fields["speculativeAuthenticate"]["mechanism"] == "SCRAM-SHA-1"
    x509 = Authenticator(MongoCredential("MONGODB-X509", None, None, None))
    fields, scram = x509.handshake_fields()
    assert scram is None and x509.source == "$external"
    assert fields["speculativeAuthenticate"] == {
        "authenticate": 1, "mechanism": "MONGODB-X509", "db": "$external"}
    plain = Authenticator(MongoCredential("PLAIN", "ldapuser", "pw", None))
    assert plain.source == "$external" and plain.handshake_fields() == ({}, None)


@pytest.mark.parametrize(
    ("credential", "message"),
    [
        (MongoCredential("GSSAPI", "u", "p"), "not supported"),
        (MongoCredential(None, None, "p"), "needs a username"),
        (MongoCredential("SCRAM-SHA-256", "u", None), "needs a password"),
        (MongoCredential("MONGODB-X509", "u", "p"), "does not take a password"),
    ],
)
def test_bad_credentials_are_configuration_errors(credential: MongoCredential,
                                                  message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Authenticator(credential)


def test_credential_repr_hides_password() -> None:
    assert "hunter2" not in repr(MongoCredential(None, "u", "hunter2"))
