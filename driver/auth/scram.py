"""SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677) as the auth spec profiles them.

``ScramClient`` is the pure message algebra (no I/O, testable against the RFC and
spec conversations); ``authenticate_scram`` drives it over ``saslStart`` /
``saslContinue`` on a connection, optionally continuing a conversation the
handshake already began speculatively.

MongoDB's profile, from the auth spec:
- user names are never SASLprep'd; SCRAM-SHA-1 passwords are the hex MD5 of
  ``user:mongo:password``; SCRAM-SHA-256 passwords are SASLprep'd;
- "drivers MUST enforce a minimum iteration count of 4096";
- "the client-first-message MUST start with ``n,``" (no channel binding);
- "drivers MUST maintain a cache of computed SCRAM credentials", keyed by password,
  salt, iteration count and mechanism.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from driver.auth.saslprep import saslprep
from driver.errors import ConfigurationError, OperationFailure
from driver.operations.replies import bad_field, optional_bytes

MIN_ITERATIONS = 4096
MECHANISMS = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}
_GS2_HEADER = b"n,,"
_CHANNEL_BINDING = base64.b64encode(_GS2_HEADER)  # b"biws"


class CommandRunner(Protocol):
    """What authentication needs from a connection."""

    def command(self, dbname: str, spec: Mapping[str, Any]) -> Mapping[str, Any]: ...


# --- Salted-password cache ------------------------------------------------------------------

_CACHE_LIMIT = 64
_key_cache: OrderedDict[tuple[str, bytes, bytes, int], tuple[bytes, bytes, bytes]] = OrderedDict()
_key_cache_lock = threading.Lock()


def _derive_keys(
    digest: str, password: bytes, salt: bytes, iterations: int
) -> tuple[bytes, bytes, bytes]:
    """(salted password, client key, server key), computed once per cache key."""
    cache_key = (digest, password, salt, iterations)
    with _key_cache_lock:
        cached = _key_cache.get(cache_key)
        if cached is not None:
            _key_cache.move_to_end(cache_key)
            return cached
    salted = hashlib.pbkdf2_hmac(digest, password, salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", digest)
    server_key = hmac.digest(salted, b"Server Key", digest)
    keys = (salted, client_key, server_key)
    with _key_cache_lock:
        _key_cache[cache_key] = keys
        while len(_key_cache) > _CACHE_LIMIT:
            _key_cache.popitem(last=False)
    return keys


def clear_key_cache() -> None:
    """Forget every cached salted password (tests use it to measure the cache)."""
    with _key_cache_lock:
        _key_cache.clear()


def key_cache_size() -> int:
    with _key_cache_lock:
        return len(_key_cache)


# --- The client side of the conversation ---------------------------------------------------


def _escape_username(username: str) -> str:
    # RFC 5802 5.1: "=" and "," in names are sent as "=3D" and "=2C".
    return username.replace("=", "=3D").replace(",", "=2C")


def _parse_attributes(message: bytes, what: str) -> dict[str, bytes]:
    attributes: dict[str, bytes] = {}
    for part in message.split(b","):
        if len(part) < 2 or part[1:2] != b"=":
            raise OperationFailure(f"SCRAM: malformed {what} from the server")
        attributes[part[:1].decode("ascii", "replace")] = part[2:]
    return attributes


def prepare_password(mechanism: str, username: str, password: str) -> bytes:
    """The password as SCRAM's Hi() consumes it under MongoDB's profile."""
    if mechanism == "SCRAM-SHA-1":
        # "hash = HEX( MD5( UTF8( username + ':mongo:' + plain_text_password )))"
        return hashlib.md5(
            f"{username}:mongo:{password}".encode(), usedforsecurity=False
        ).hexdigest().encode("ascii")
    try:
        return saslprep(password).encode("utf-8")
    except ValueError:
        # Never quote the password (or a character of it) in an error.
        raise ConfigurationError(
            "the password contains characters SASLprep prohibits (RFC 4013); "
            "SCRAM-SHA-256 cannot use it"
        ) from None


class ScramClient:
    """One SCRAM conversation from the client's side (no I/O)."""

    def __init__(
        self,
        mechanism: str,
        username: str,
        password: str,
        *,
        nonce: str | None = None,
        prepared_password: bytes | None = None,
    ) -> None:
        if mechanism not in MECHANISMS:
            raise ConfigurationError(f"unsupported SCRAM mechanism {mechanism!r}")
        self.mechanism = mechanism
        self.digest = MECHANISMS[mechanism]
        self.username = username
        self._password = (
            prepared_password
            if prepared_password is not None
            else prepare_password(mechanism, username, password)
        )
        self.nonce = nonce if nonce is not None else base64.b64encode(os.urandom(24)).decode()
        self._client_first_bare = f"n={_escape_username(username)},r={self.nonce}".encode()
        self._server_signature: bytes | None = None

    def client_first(self) -> bytes:
        """``n,,n=<user>,r=<client nonce>``."""
        return _GS2_HEADER + self._client_first_bare

    def client_final(self, server_first: bytes) -> bytes:
        """Answer the server-first message with the client proof."""
        attributes = _parse_attributes(server_first, "server-first message")
        if "m" in attributes:
            raise OperationFailure("SCRAM: server requires an unsupported mandatory extension")
        try:
            combined_nonce = attributes["r"]
            salt = base64.b64decode(attributes["s"], validate=True)
            iterations = int(attributes["i"])
        except (KeyError, ValueError) as exc:
            raise OperationFailure(f"SCRAM: server-first message lacks or garbles {exc}") from None
        if not combined_nonce.startswith(self.nonce.encode()) or combined_nonce == self.nonce.encode():
            raise OperationFailure("SCRAM: server nonce does not extend the client nonce")
        if iterations < MIN_ITERATIONS:
            raise OperationFailure(
                f"SCRAM: server asked for {iterations} iterations; at least {MIN_ITERATIONS} "
                "are required"
            )
        _salted, client_key, server_key = _derive_keys(
            self.digest, self._password, salt, iterations
        )
        without_proof = b"c=" + _CHANNEL_BINDING + b",r=" + combined_nonce
        auth_message = b",".join((self._client_first_bare, server_first, without_proof))
        stored_key = hashlib.new(self.digest, client_key).digest()
        client_signature = hmac.digest(stored_key, auth_message, self.digest)
        proof = bytes(a ^ b for a, b in zip(client_key, client_signature, strict=True))
        self._server_signature = hmac.digest(server_key, auth_message, self.digest)
        return without_proof + b",p=" + base64.b64encode(proof)

    def verify_server_final(self, server_final: bytes) -> None:
        """Check the server's signature: proof that it knows the password too."""
        if self._server_signature is None:
            raise OperationFailure("SCRAM: server-final message before client-final")
        attributes = _parse_attributes(server_final, "server-final message")
        if "e" in attributes:
            raise OperationFailure(
                f"SCRAM: server reported {attributes['e'].decode('utf-8', 'replace')}"
            )
        received = attributes.get("v", b"")
        try:
            decoded = base64.b64decode(received, validate=True)
        except ValueError:
            decoded = b""
        if not hmac.compare_digest(decoded, self._server_signature):
            raise OperationFailure("SCRAM: the server's signature is wrong; it does not know the "
                                   "password (possible man-in-the-middle)")

    @property
    def finished(self) -> bool:
        return self._server_signature is not None


# --- Over the wire --------------------------------------------------------------------------


def sasl_start_command(client: ScramClient) -> dict[str, Any]:
    """The ``saslStart`` for ``client`` (also the speculative form, with ``db`` added)."""
    return {
        "saslStart": 1,
        "mechanism": client.mechanism,
        "payload": client.client_first(),
        "autoAuthorize": 1,
        # "Drivers MUST add a top-level options field to the saslStart command, whose
        # value is a document containing a field named skipEmptyExchange whose value is true."
        "options": {"skipEmptyExchange": True},
    }


def _payload(reply: Mapping[str, Any]) -> bytes:
    payload = reply.get("payload", b"")
    if isinstance(payload, str):  # some servers send base64 text
        try:
            return base64.b64decode(payload, validate=True)
        except ValueError:  # binascii.Error
            raise bad_field("SCRAM reply", "payload", "binary data or base64 text",
                            payload) from None
    return optional_bytes(reply, "payload", "SCRAM reply")


def authenticate_scram(
    conn: CommandRunner,
    client: ScramClient,
    source: str,
    *,
    first_reply: Mapping[str, Any] | None = None,
    fail: Callable[[OperationFailure], OperationFailure] = lambda exc: exc,
) -> None:
    """Run (or, given the speculative ``first_reply``, finish) a SCRAM conversation.

    ``fail`` turns an error into the one the caller wants raised (naming user and
    source); the password never reaches an error message here.
    """
    try:
        reply = first_reply
        if reply is None:
            reply = conn.command(source, sasl_start_command(client))
        conversation_id = reply.get("conversationId")
        if conversation_id is not None and not isinstance(conversation_id, int):
            raise bad_field("saslStart reply", "conversationId", "an integer", conversation_id)
        final = client.client_final(_payload(reply))
        reply = conn.command(
            source, {"saslContinue": 1, "conversationId": conversation_id, "payload": final}
        )
        client.verify_server_final(_payload(reply))
        # Servers before 4.4 (or ignoring skipEmptyExchange) want one empty round more.
        rounds = 0
        while not reply.get("done"):
            rounds += 1
            if rounds > 2:
                raise OperationFailure("SCRAM: server did not finish the conversation")
            reply = conn.command(
                source, {"saslContinue": 1, "conversationId": conversation_id, "payload": b""}
            )
    except OperationFailure as exc:
        raise fail(exc) from exc
