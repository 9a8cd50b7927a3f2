"""Secrets: split/join of connection strings, the encrypted file, the keyring probe, and
import/export that never writes a secret in clear."""

from __future__ import annotations

import json

import pytest

from app.connect import secrets as secrets_module
from app.connect.favorites import FavoritesStore
from app.connect.secrets import (
    EncryptedFileSecretStore,
    MemorySecretStore,
    UriSecrets,
    WrongPassphrase,
    join_secrets,
    split_secrets,
)
from app.connect.transfer import ImportError_, export_favorites, import_into, read_export

FAST_N = 2**10  # a cheap scrypt cost for tests; the app uses 2**15


@pytest.mark.parametrize(
    ("uri", "public", "found"),
    [
        ("mongodb://u:p%40ss@h:1/db?w=1", "mongodb://u@h:1/db?w=1", UriSecrets("p@ss")),
        ("mongodb://u@h", "mongodb://u@h", UriSecrets()),
        ("mongodb://u:@h/", "mongodb://u@h/", UriSecrets("")),
        ("mongodb+srv://u:pw@c.example.net/?retryWrites=true", "mongodb+srv://u@c.example.net/?retryWrites=true", UriSecrets("pw")),
        ("mongodb://h/?tlsCertificateKeyFilePassword=k%26y&tls=true", "mongodb://h/?tls=true", UriSecrets(None, "k&y")),
        ("mongodb://%2Ftmp%2Fmongodb-27017.sock", "mongodb://%2Ftmp%2Fmongodb-27017.sock", UriSecrets()),
        ("mongodb://u:p@[::1]:27017,[fe80::1]:27018", "mongodb://u@[::1]:27017,[fe80::1]:27018", UriSecrets("p")),
    ],
)
def test_split_and_join_secrets(uri, public, found):
    assert split_secrets(uri) == (public, found)
    rejoined = join_secrets(public, found)
    assert split_secrets(rejoined) == (public, found)


def test_encrypted_file_store_round_trip_and_wrong_passphrase(tmp_path):
    path = tmp_path / "secrets.enc.json"
    store = EncryptedFileSecretStore(path, "correct horse", n=FAST_N)
    store.set("fav1", UriSecrets("hunter2", "keypw"))
    raw = path.read_bytes()
    assert b"hunter2" not in raw and b"keypw" not in raw
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert EncryptedFileSecretStore(path, "correct horse").get("fav1") == UriSecrets("hunter2", "keypw")
    with pytest.raises(WrongPassphrase):
        EncryptedFileSecretStore(path, "wrong horse")
    envelope = json.loads(raw)
    envelope["ciphertext"] = envelope["ciphertext"][:-4] + "AAAA"
    path.write_text(json.dumps(envelope))
    with pytest.raises(WrongPassphrase, match="altered"):
        EncryptedFileSecretStore(path, "correct horse")


def test_keyring_probe_without_a_backend_falls_back_to_asking(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "keyring", None)  # as if not installed
    assert secrets_module.usable_keyring() is None
    assert isinstance(secrets_module.default_secret_store(), MemorySecretStore)


def test_keyring_store_uses_a_working_backend(monkeypatch):
    import sys
    import types

    vault: dict[tuple[str, str], str] = {}
    fake = types.ModuleType("keyring")
    fake.get_keyring = lambda: types.SimpleNamespace(priority=5)
    fake.set_password = lambda s, u, p: vault.__setitem__((s, u), p)
    fake.get_password = lambda s, u: vault.get((s, u))
    fake.delete_password = lambda s, u: vault.pop((s, u))
    monkeypatch.setitem(sys.modules, "keyring", fake)
    store = secrets_module.default_secret_store()
    assert store.kind == "keyring" and vault == {}  # the probe cleaned up after itself
    store.set("id1", UriSecrets("pw"))
    assert store.get("id1") == UriSecrets("pw")
    store.delete("id1")
    store.delete("id1")  # absent: no error
    assert store.get("id1") is None
    fake.get_keyring = lambda: types.SimpleNamespace(priority=0)  # keyring's "fail" backend
    assert secrets_module.usable_keyring() is None


def _store_with_secrets(folder):
    store = FavoritesStore(folder)
    store.save_favorite("Prod", "mongodb://admin:Pa%24%24word99@prod.example/?tls=true", folder="Work", color="red")
    store.save_favorite("Local", "mongodb://localhost")
    return store


def test_export_without_passphrase_has_no_secret(tmp_path):
    data = export_favorites(_store_with_secrets(tmp_path))
    assert b"Pa$$word99" not in data and b"Pa%24%24word99" not in data and b"word99" not in data
    result = read_export(data)
    assert [(f.name, f.uri, f.folder, f.color) for f in result.favorites] == [
        ("Prod", "mongodb://admin@prod.example/?tls=true", "Work", "red"),
        ("Local", "mongodb://localhost", "", ""),
    ]


def test_export_with_passphrase_round_trips_secrets(tmp_path, monkeypatch):
    monkeypatch.setattr(secrets_module, "SCRYPT_N", FAST_N)
    data = export_favorites(_store_with_secrets(tmp_path / "a"), passphrase="export pass")
    assert b"word99" not in data
    with pytest.raises(WrongPassphrase):
        read_export(data, "nope")
    without = read_export(data)
    assert "without its passphrase" in without.notices[0]
    result = read_export(data, "export pass")
    target = FavoritesStore(tmp_path / "b", MemorySecretStore())
    ids = import_into(target, result)
    uri, missing = target.uri_with_secrets(ids[0])
    assert uri == "mongodb://admin:Pa%24%24word99@prod.example/?tls=true" and not missing
    assert b"word99" not in (tmp_path / "b" / "favorites.json").read_bytes()


def test_import_compass_export_shape(tmp_path):
    compass = {
        "type": "Compass Connections",
        "version": {"$numberInt": "1"},
        "connections": [
            {
                "id": "9b3a",
                "connectionOptions": {"connectionString": "mongodb+srv://ann@cluster0.ab12c.mongodb.net/"},
                "favorite": {"name": "Atlas", "color": "color4"},
                "connectionSecrets": "AAECAwQ=",
            },
            {"id": "x", "connectionOptions": {}},
        ],
    }
    result = read_export(json.dumps(compass).encode())
    assert [(f.name, f.uri, f.color) for f in result.favorites] == [
        ("Atlas", "mongodb+srv://ann@cluster0.ab12c.mongodb.net/", "green")
    ]
    assert any("encrypted by Compass" in n for n in result.notices)
    assert any("without a connection string" in n for n in result.notices)


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"nope", "not JSON"), (b"[]", "JSON object"), (b'{"type": "Other"}', "unknown export type")],
)
def test_import_rejects_other_files_clearly(data, message):
    with pytest.raises(ImportError_, match=message):
        read_export(data)


def test_a_corrupt_keychain_entry_is_a_secret_store_error():
    import types

    from app.connect.secrets import KeyringSecretStore, SecretStoreError

    fake = types.SimpleNamespace(get_password=lambda s, u: "not json")
    with pytest.raises(SecretStoreError, match="is not a Binnacle secret"):
        KeyringSecretStore(fake).get("id1")
    fake.get_password = lambda s, u: '{"colour": "red"}'
    with pytest.raises(SecretStoreError, match="is not a Binnacle secret"):
        KeyringSecretStore(fake).get("id1")
