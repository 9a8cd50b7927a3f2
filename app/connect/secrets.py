"""Secrets (passwords, key passphrases) kept out of the favorites file.

Three homes, best first:
1. The OS keychain through ``keyring``, when it is installed *and* a real backend works
   (``usable_keyring()`` probes; headless Linux usually has none). Imported lazily:
   keyring is optional.
2. ``MemorySecretStore``: nothing is stored; the app asks at connect time and keeps
   the answer for the session only.
3. ``EncryptedFileSecretStore``: opt-in, a file encrypted with a passphrase
   (scrypt key derivation + AES-256-GCM, from ``cryptography``). Never plain text.

``split_secrets(uri)`` takes the password and ``tlsCertificateKeyFilePassword`` out of a
connection string (so only the public part is saved) and ``join_secrets`` puts them back
at connect time. It works on the string's syntax alone, so it also protects strings the
parser refuses.
"""

from __future__ import annotations

import base64
import json
import os
import secrets as _random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote

from app.settings import atomic_write

KEYRING_SERVICE = "Binnacle"
_SECRET_OPTIONS = ("tlscertificatekeyfilepassword", "sslpemkeypassword")


# -- connection-string secrets ---------------------------------------------------------
@dataclass(frozen=True)
class UriSecrets:
    password: str | None = None
    key_password: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v is not None}

    def __bool__(self) -> bool:
        return bool(self.as_dict())


def _split_authority(uri: str) -> tuple[str, str, str, str]:
    """``(scheme://, userinfo, hosts, rest)`` where rest starts with '/' or '?' or is ''."""
    scheme, sep, after = uri.partition("://")
    if not sep:
        return "", "", uri, ""
    cut = len(after)
    for mark in ("/", "?"):
        index = after.find(mark)
        if index != -1:
            cut = min(cut, index)
    authority, rest = after[:cut], after[cut:]
    userinfo, at, hosts = authority.rpartition("@")
    return scheme + sep, (userinfo if at else ""), (hosts if at else authority), rest


def split_secrets(uri: str) -> tuple[str, UriSecrets]:
    """Return the URI without its secrets, and the secrets (unescaped)."""
    prefix, userinfo, hosts, rest = _split_authority(uri)
    password = None
    if userinfo:
        user, colon, raw_password = userinfo.partition(":")
        if colon:
            password = unquote(raw_password)
        userinfo = user + "@"
    path, _, query = rest.partition("?")
    key_password = None
    kept = []
    for pair in query.split("&") if query else []:
        name, _, value = pair.partition("=")
        if name.lower() in _SECRET_OPTIONS:
            key_password = unquote(value)
        else:
            kept.append(pair)
    query_part = ("?" + "&".join(kept)) if kept else ""
    return f"{prefix}{userinfo}{hosts}{path}{query_part}", UriSecrets(password, key_password)


def join_secrets(public_uri: str, found: UriSecrets) -> str:
    """Put secrets back into a URI made by ``split_secrets`` (escaped for the URI)."""
    prefix, userinfo, hosts, rest = _split_authority(public_uri)
    if found.password is not None and userinfo:
        user = userinfo.split(":", 1)[0]
        userinfo = f"{user}:{quote(found.password, safe='')}"
    uri = f"{prefix}{userinfo + '@' if userinfo else ''}{hosts}{rest}"
    if found.key_password is not None:
        joiner = "&" if "?" in uri else ("?" if uri.count("/") > 2 else "/?")
        uri += f"{joiner}tlsCertificateKeyFilePassword={quote(found.key_password, safe='')}"
    return uri


# -- encryption -------------------------------------------------------------------------
class WrongPassphrase(ValueError):
    """The passphrase does not open this file (or the file was altered)."""


SCRYPT_N = 2**15  # ~32 MiB and ~0.1 s per derivation: slow for guessing, fine once.


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def seal(
    passphrase: str, plaintext: bytes, purpose: str, *, n: int | None = None
) -> dict[str, Any]:
    """Encrypt ``plaintext``; returns a JSON-able envelope. ``purpose`` is bound as AAD."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not passphrase:
        raise ValueError("the passphrase must not be empty")
    n = n or SCRYPT_N
    salt, nonce = os.urandom(16), os.urandom(12)
    key = _derive(passphrase, salt, n, 8, 1)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, purpose.encode())
    b64 = base64.b64encode
    return {
        "kdf": {"name": "scrypt", "n": n, "r": 8, "p": 1, "salt": b64(salt).decode()},
        "cipher": "AES-256-GCM",
        "purpose": purpose,
        "nonce": b64(nonce).decode(),
        "ciphertext": b64(ciphertext).decode(),
    }


def unseal(passphrase: str, envelope: dict[str, Any], purpose: str) -> bytes:
    """Decrypt an envelope made by ``seal``; ``WrongPassphrase`` if it does not open."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        kdf = envelope["kdf"]
        if kdf.get("name") != "scrypt" or envelope.get("cipher") != "AES-256-GCM":
            raise ValueError(f"unsupported encryption {kdf.get('name')}/{envelope.get('cipher')}")
        salt = base64.b64decode(kdf["salt"])
        nonce = base64.b64decode(envelope["nonce"])
        ciphertext = base64.b64decode(envelope["ciphertext"])
        key = _derive(passphrase, salt, int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an encrypted Binnacle envelope: {exc}") from exc
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, purpose.encode())
    except InvalidTag:
        raise WrongPassphrase("the passphrase is wrong or the file was altered") from None


# -- stores -----------------------------------------------------------------------------
class SecretStoreError(Exception):
    """The secret store holds something Binnacle cannot use (the message says what)."""


class SecretStore(Protocol):
    kind: str
    persistent: bool
    # Whether a call may wait on something outside the process (a locked keychain, a
    # slow Secret Service, a key derivation): then the GUI runs it on a worker thread.
    may_block: bool

    def get(self, key: str) -> UriSecrets | None: ...
    def set(self, key: str, value: UriSecrets) -> None: ...
    def delete(self, key: str) -> None: ...


class MemorySecretStore:
    """Session-only: the user is asked at connect time; nothing reaches the disk."""

    kind = "ask"
    persistent = False
    may_block = False

    def __init__(self) -> None:
        self._values: dict[str, UriSecrets] = {}

    def get(self, key: str) -> UriSecrets | None:
        return self._values.get(key)

    def set(self, key: str, value: UriSecrets) -> None:
        self._values[key] = value

    def delete(self, key: str) -> None:
        self._values.pop(key, None)


class KeyringSecretStore:
    """The OS keychain (entries: service "Binnacle", user = favorite id)."""

    kind = "keyring"
    persistent = True
    may_block = True

    def __init__(self, keyring_module: Any) -> None:
        self._keyring = keyring_module

    def get(self, key: str) -> UriSecrets | None:
        raw = self._keyring.get_password(KEYRING_SERVICE, key)
        if not raw:
            return None
        try:
            return UriSecrets(**json.loads(raw))
        except (TypeError, ValueError) as exc:  # edited by hand or by another program
            raise SecretStoreError(
                f"the keychain entry {KEYRING_SERVICE}/{key} is not a Binnacle secret ({exc})"
            ) from None

    def set(self, key: str, value: UriSecrets) -> None:
        self._keyring.set_password(KEYRING_SERVICE, key, json.dumps(value.as_dict()))

    def delete(self, key: str) -> None:
        try:
            self._keyring.delete_password(KEYRING_SERVICE, key)
        except Exception:  # noqa: BLE001 - keyring raises PasswordDeleteError if absent
            pass


def usable_keyring() -> Any | None:
    """The ``keyring`` module if installed and backed by a working keychain, else None."""
    try:
        import keyring
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
        # The "fail" and "null" backends have priority 0 or below: nothing to store in.
        if float(getattr(backend, "priority", 0)) <= 0:
            return None
        probe = f"binnacle-probe-{_random.token_hex(4)}"
        keyring.set_password(KEYRING_SERVICE, probe, "probe")
        ok = keyring.get_password(KEYRING_SERVICE, probe) == "probe"
        keyring.delete_password(KEYRING_SERVICE, probe)
    except Exception:  # noqa: BLE001 - any backend failure means "no keychain"
        return None
    return keyring if ok else None


class EncryptedFileSecretStore:
    """Opt-in: every secret in one file sealed with the user's passphrase.

    The key is derived once per ``open`` (scrypt is deliberately slow); run ``open`` and
    ``set`` off the GUI thread.
    """

    kind = "encrypted-file"
    persistent = True
    may_block = True  # every ``set`` derives a key (scrypt) and rewrites the file
    PURPOSE = "binnacle-secrets-v1"

    def __init__(self, path: Path, passphrase: str, *, n: int | None = None) -> None:
        self.path = path
        self._passphrase = passphrase
        self._n = n
        self._values: dict[str, dict[str, str]] = {}
        if path.exists():
            envelope = json.loads(path.read_text("utf-8"))
            plaintext = unseal(passphrase, envelope, self.PURPOSE)
            self._values = json.loads(plaintext)

    def get(self, key: str) -> UriSecrets | None:
        found = self._values.get(key)
        return UriSecrets(**found) if found else None

    def set(self, key: str, value: UriSecrets) -> None:
        self._values[key] = value.as_dict()
        self._save()

    def delete(self, key: str) -> None:
        if self._values.pop(key, None) is not None:
            self._save()

    def _save(self) -> None:
        plaintext = json.dumps(self._values).encode("utf-8")
        envelope = seal(self._passphrase, plaintext, self.PURPOSE, n=self._n)
        envelope["schema_version"] = 1
        atomic_write(self.path, json.dumps(envelope).encode("utf-8"))
        os.chmod(self.path, 0o600)


def default_secret_store() -> SecretStore:
    """The keychain when one works, otherwise ask at connect time."""
    module = usable_keyring()
    return KeyringSecretStore(module) if module is not None else MemorySecretStore()
