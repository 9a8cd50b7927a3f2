"""Server side of SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802 / RFC 7677), with real proofs.

Users are kept as SCRAM credentials only (salt, iteration count, StoredKey, ServerKey), never as
passwords. SCRAM-SHA-1 uses MongoDB's pre-hashed password ``MD5("<user>:mongo:<password>")``;
SCRAM-SHA-256 uses the SASLprep'd password itself, as the MongoDB auth spec requires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stringprep
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import AUTHENTICATION_FAILED, BAD_VALUE, CommandError

SHA1 = "SCRAM-SHA-1"
SHA256 = "SCRAM-SHA-256"
MECHANISMS = (SHA1, SHA256)
_HASHES = {SHA1: ("sha1", 10000, 16), SHA256: ("sha256", 15000, 28)}


@dataclass(frozen=True)
class ScramKeys:
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


@dataclass
class UserCredential:
    user: str
    db: str
    roles: list[dict[str, str]]
    keys: dict[str, ScramKeys] = field(default_factory=dict)
    x509: bool = False

    @property
    def mechanisms(self) -> list[str]:
        return ["MONGODB-X509"] if self.x509 else sorted(self.keys)

    def info(self) -> dict[str, Any]:
        return {"_id": f"{self.db}.{self.user}", "user": self.user, "db": self.db,
                "roles": list(self.roles), "mechanisms": self.mechanisms}


def saslprep(text: str) -> str:
    """RFC 4013 SASLprep, enough for passwords: map, NFKC-normalise, refuse prohibited code points."""
    mapped = "".join(" " if stringprep.in_table_c12(ch) else ch for ch in text
                     if not stringprep.in_table_b1(ch))
    normal = unicodedata.normalize("NFKC", mapped)
    for ch in normal:
        if (stringprep.in_table_c21_c22(ch) or stringprep.in_table_c3(ch)
                or stringprep.in_table_c4(ch) or stringprep.in_table_c5(ch)
                or stringprep.in_table_c6(ch) or stringprep.in_table_c7(ch)
                or stringprep.in_table_c8(ch) or stringprep.in_table_c9(ch)):
            raise CommandError(BAD_VALUE, "password contains a character SASLprep prohibits")
    return normal


def _hmac(algorithm: str, key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, algorithm).digest()


def _scram_password(mechanism: str, user: str, password: str) -> bytes:
    if mechanism == SHA1:
        return hashlib.md5(f"{user}:mongo:{password}".encode()).hexdigest().encode()
    return saslprep(password).encode("utf-8")


def make_keys(mechanism: str, user: str, password: str) -> ScramKeys:
    algorithm, iterations, salt_len = _HASHES[mechanism]
    salt = os.urandom(salt_len)
    salted = hashlib.pbkdf2_hmac(algorithm, _scram_password(mechanism, user, password), salt,
                                 iterations)
    client_key = _hmac(algorithm, salted, b"Client Key")
    return ScramKeys(salt, iterations, hashlib.new(algorithm, client_key).digest(),
                     _hmac(algorithm, salted, b"Server Key"))


def make_user(user: str, db: str, password: str, roles: list[dict[str, str]],
              mechanisms: tuple[str, ...] = MECHANISMS) -> UserCredential:
    return UserCredential(user, db, roles, {m: make_keys(m, user, password) for m in mechanisms})


def check_password(user: UserCredential, password: str) -> bool:
    """Verify a clear-text password (SASL PLAIN) against the stored SCRAM keys."""
    mechanism = SHA256 if SHA256 in user.keys else SHA1 if SHA1 in user.keys else None
    if mechanism is None:
        return False
    keys = user.keys[mechanism]
    algorithm = _HASHES[mechanism][0]
    salted = hashlib.pbkdf2_hmac(algorithm, _scram_password(mechanism, user.user, password),
                                 keys.salt, keys.iterations)
    client_key = _hmac(algorithm, salted, b"Client Key")
    return hmac.compare_digest(hashlib.new(algorithm, client_key).digest(), keys.stored_key)


def plain_authenticate(payload: bytes, db: str,
                       users: dict[tuple[str, str], UserCredential]) -> UserCredential:
    """SASL PLAIN (RFC 4616): ``[authzid] NUL authcid NUL password`` in one message."""
    parts = payload.split(b"\x00")
    if len(parts) != 3:
        raise CommandError(BAD_VALUE, "malformed SASL PLAIN message")
    name, password = parts[1].decode("utf-8", "replace"), parts[2].decode("utf-8", "replace")
    user = users.get((db, name))
    if user is None or not check_password(user, password):
        raise _fail()
    return user


def _fail() -> CommandError:
    # A real server says no more than this, whatever went wrong.
    return CommandError(AUTHENTICATION_FAILED, "Authentication failed.")


def _attributes(message: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in message.split(","):
        key, eq, value = part.partition("=")
        if not eq or len(key) != 1:
            raise CommandError(BAD_VALUE, "malformed SCRAM message")
        out.setdefault(key, value)
    return out


def _unescape_name(name: str) -> str:
    return name.replace("=2C", ",").replace("=3D", "=")


class ScramConversation:
    """One SCRAM exchange on one connection."""

    def __init__(self, mechanism: str, db: str, users: dict[tuple[str, str], UserCredential],
                 skip_empty_exchange: bool) -> None:
        if mechanism not in MECHANISMS:
            raise CommandError(BAD_VALUE, f"Received authentication for mechanism {mechanism} "
                                          "which is not enabled")
        self.mechanism = mechanism
        self.algorithm = _HASHES[mechanism][0]
        self.db = db
        self.users = users
        self.skip_empty_exchange = skip_empty_exchange
        self.step = 0
        self.user: UserCredential | None = None
        self._auth_message = ""
        self._nonce = ""
        self._server_signature = b""
        self.done = False

    def start(self, payload: bytes) -> bytes:
        text = payload.decode("utf-8", "strict")
        if not text.startswith(("n,", "y,")):
            raise _fail()  # channel binding ("p=") is not offered
        _cbind, _sep, rest = text.partition(",")
        _authzid, _sep, bare = rest.partition(",")
        attrs = _attributes(bare)
        if "n" not in attrs or "r" not in attrs:
            raise CommandError(BAD_VALUE, "SCRAM client-first message lacks n= or r=")
        user = self.users.get((self.db, _unescape_name(attrs["n"])))
        if user is None or self.mechanism not in user.keys:
            raise _fail()
        self.user = user
        keys = user.keys[self.mechanism]
        self._nonce = attrs["r"] + base64.b64encode(os.urandom(24)).decode()
        server_first = (f"r={self._nonce},s={base64.b64encode(keys.salt).decode()},"
                        f"i={keys.iterations}")
        self._auth_message = bare + "," + server_first
        self.step = 1
        return server_first.encode()

    def next(self, payload: bytes) -> bytes:
        if self.step == 2:
            self.step = 3
            self.done = True
            return b""
        if self.step != 1 or self.user is None:
            raise CommandError(BAD_VALUE, "SCRAM conversation is not in progress")
        text = payload.decode("utf-8", "strict")
        without_proof, _sep, _proof = text.rpartition(",p=")
        attrs = _attributes(text)
        if attrs.get("r") != self._nonce or attrs.get("c") not in ("biws", "eSws") or not _sep:
            raise _fail()
        keys = self.user.keys[self.mechanism]
        auth_message = (self._auth_message + "," + without_proof).encode()
        signature = _hmac(self.algorithm, keys.stored_key, auth_message)
        try:
            proof = base64.b64decode(attrs["p"], validate=True)
        except ValueError:
            raise _fail() from None
        if len(proof) != len(signature):
            raise _fail()
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.new(self.algorithm, client_key).digest(),
                                   keys.stored_key):
            raise _fail()
        server_signature = _hmac(self.algorithm, keys.server_key, auth_message)
        self.step = 2
        if self.skip_empty_exchange:
            self.step = 3
            self.done = True
        return b"v=" + base64.b64encode(server_signature)
