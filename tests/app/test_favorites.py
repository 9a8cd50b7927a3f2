"""Favorites store: save/load/migrate, atomic writes under kill -9, corrupt files kept
aside, secrets never in the file, folders, sort, search and recents."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.connect.favorites import MAX_RECENTS, FavoritesReadOnly, FavoritesStore
from app.connect.secrets import MemorySecretStore, UriSecrets

SECRET = "s3cr:t@P/w?d"
SECRET_ESCAPED = "s3cr%3At%40P%2Fw%3Fd"


def test_save_and_load_round_trip(data_dir):
    store = FavoritesStore()
    prod = store.save_favorite("Production", "mongodb://db1.example,db2.example/?replicaSet=rs0",
                               folder="Work", color="red")
    store.save_favorite("Local", "mongodb://localhost:27017")
    again = FavoritesStore()
    assert [f.name for f in again.favorites] == ["Production", "Local"]
    loaded = again.get(prod.id)
    assert loaded == prod
    assert again.folders == ["Work"]
    document = json.loads((data_dir / "favorites.json").read_text())
    assert document["schema_version"] == 3


def test_rename_duplicate_colour_delete(data_dir):
    store = FavoritesStore()
    secrets = store.secrets
    original = store.save_favorite("A", f"mongodb://alice:{SECRET_ESCAPED}@h1/")
    store.rename(original.id, "  Alpha ")
    copy = store.duplicate(original.id)
    assert copy.name == "Alpha (copy)" and copy.id != original.id
    assert store.duplicate(original.id).name == "Alpha (copy 2)"
    assert secrets.get(copy.id) == UriSecrets(password=SECRET)
    store.set_color(copy.id, "green")
    with pytest.raises(ValueError, match="unknown colour label 'pink'"):
        store.set_color(copy.id, "pink")
    with pytest.raises(ValueError, match="name must not be empty"):
        store.rename(copy.id, "   ")
    store.delete(original.id)
    assert secrets.get(original.id) is None
    reloaded = FavoritesStore(secret_store=secrets)
    assert {f.name for f in reloaded.favorites} == {"Alpha (copy)", "Alpha (copy 2)"}
    assert reloaded.get(copy.id).color == "green"
    with pytest.raises(KeyError, match="no favorite with id"):
        reloaded.get(original.id)


def test_folders_sort_and_search(data_dir):
    store = FavoritesStore()
    b = store.save_favorite("beta", "mongodb://zeta.example")
    a = store.save_favorite("Alpha", "mongodb://omega.example:27018")
    store.add_folder("Prod")
    with pytest.raises(ValueError, match="already exists"):
        store.add_folder("Prod")
    store.move_to_folder([a.id, b.id], "Prod")
    store.rename_folder("Prod", "Production")
    assert {f.folder for f in store.favorites} == {"Production"}
    store.delete_folder("Production")
    assert {f.folder for f in store.favorites} == {""}
    assert [f.name for f in store.sorted("name")] == ["Alpha", "beta"]
    assert [f.name for f in store.sorted("host")] == ["Alpha", "beta"]
    store.mark_used(b.id)
    assert store.sorted("last_used")[0].id == b.id
    assert [f.name for f in store.search("OMEGA")] == ["Alpha"]
    assert [f.name for f in store.search("bet")] == ["beta"]
    with pytest.raises(ValueError, match="sort key must be one of"):
        store.sorted("colour")


def test_recents_keep_the_last_twenty_without_secrets(data_dir):
    store = FavoritesStore()
    for i in range(25):
        store.add_recent(f"mongodb://u:{SECRET_ESCAPED}@host{i}.example/")
    store.add_recent("mongodb://u:pw@host10.example/")  # again: moves to the front
    assert len(store.recents) == MAX_RECENTS
    assert store.recents[0].uri == "mongodb://u@host10.example/"
    assert store.recents[0].name == "host10.example"
    assert sum(r.uri.endswith("host10.example/") for r in store.recents) == 1
    assert b"s3cr" not in (data_dir / "favorites.json").read_bytes()


def test_no_secret_in_the_file(data_dir):
    store = FavoritesStore()
    fav = store.save_favorite(
        "Secure",
        f"mongodb://alice:{SECRET_ESCAPED}@h/?tls=true&tlsCertificateKeyFile=/k.pem"
        "&tlsCertificateKeyFilePassword=keypass123&appname=x",
    )
    raw = (data_dir / "favorites.json").read_bytes()
    for needle in (b"s3cr", SECRET_ESCAPED.encode(), b"keypass123", b"P/w"):
        assert needle not in raw
    assert fav.uri == "mongodb://alice@h/?tls=true&tlsCertificateKeyFile=/k.pem&appname=x"
    uri, missing = store.uri_with_secrets(fav.id)
    assert not missing
    assert uri == (
        f"mongodb://alice:{SECRET_ESCAPED}@h/?tls=true&tlsCertificateKeyFile=/k.pem&appname=x"
        "&tlsCertificateKeyFilePassword=keypass123"
    )
    # A fresh session without a keychain: the password must be asked for.
    _, missing = FavoritesStore(secret_store=MemorySecretStore()).uri_with_secrets(fav.id)
    assert missing


def test_migrates_version_1_and_moves_its_secrets_out(data_dir):
    data_dir.mkdir(parents=True)
    path = data_dir / "favorites.json"
    path.write_text(json.dumps({
        "schema_version": 1,
        "connections": [
            {"name": "Old", "uri": f"mongodb://bob:{SECRET_ESCAPED}@old.example/", "colour": "blue"},
            {"name": "", "uri": "mongodb://x.example"},
        ],
    }))
    secrets = MemorySecretStore()
    store = FavoritesStore(secret_store=secrets)
    assert [(f.name, f.color, f.uri) for f in store.favorites] == [
        ("Old", "blue", "mongodb://bob@old.example/"),
        ("Unnamed", "", "mongodb://x.example"),
    ]
    assert secrets.get(store.favorites[0].id) == UriSecrets(password=SECRET)
    rewritten = path.read_bytes()
    assert json.loads(rewritten)["schema_version"] == 3
    assert b"s3cr" not in rewritten


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe garbage", b"[1, 2, 3]", b'{"schema_version": "two"}', b""],
)
def test_corrupt_file_is_kept_aside_and_the_user_told(data_dir, content):
    data_dir.mkdir(parents=True)
    (data_dir / "favorites.json").write_bytes(content)
    store = FavoritesStore()
    assert store.favorites == []
    assert len(store.notices) == 1 and "could not be read" in store.notices[0]
    aside = list(data_dir.glob("favorites.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert aside[0].name in store.notices[0]
    store.save_favorite("Fresh", "mongodb://h")  # and the app carries on
    assert [f.name for f in FavoritesStore().favorites] == ["Fresh"]


def test_newer_schema_is_read_only(data_dir):
    data_dir.mkdir(parents=True)
    path = data_dir / "favorites.json"
    path.write_text(json.dumps({"schema_version": 99, "favorites": [], "future": True}))
    store = FavoritesStore()
    assert store.read_only and "newer Binnacle" in store.notices[0]
    with pytest.raises(FavoritesReadOnly):
        store.save_favorite("x", "mongodb://h")
    assert json.loads(path.read_text())["future"] is True


_WRITER = textwrap.dedent(
    """
    import sys
    from app.connect.favorites import FavoritesStore
    store = FavoritesStore(autosave=False)
    for i in range(300):
        store.save_favorite(f"favorite {i} " + "x" * 150, f"mongodb://host{i}.example:27017/" + "?appname=" + "y" * 150)
    store.save()
    print("ready", flush=True)
    round = 0
    while True:
        round += 1
        store.favorites = store.favorites[:1] * (100 + round % 200)
        store.save()
    """
)


def test_kill_9_during_saves_leaves_a_loadable_file(data_dir, tmp_path):
    env = {**os.environ, "BINNACLE_DATA_DIR": str(data_dir)}
    root = Path(__file__).resolve().parents[2]
    rng = random.Random(7)
    for _ in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER], cwd=root, env=env, stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        # Let it rewrite the file a random number of times, then kill it mid-write.
        import time

        time.sleep(rng.uniform(0.01, 0.15))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        store = FavoritesStore(autosave=False)
        assert store.notices == []
        assert len(store.favorites) in (300, *range(100, 300))
    assert not list(data_dir.glob("favorites.json.corrupt-*"))


def test_read_only_is_saved_toggled_and_duplicated(data_dir):
    store = FavoritesStore()
    prod = store.save_favorite("Prod", "mongodb://db1.example/", read_only=True)
    local = store.save_favorite("Local", "mongodb://localhost:27017")
    assert prod.read_only and not local.read_only
    assert store.duplicate(prod.id).read_only  # a copy of a careful favorite stays careful
    store.set_read_only(local.id, True)
    edited = store.save_favorite("Prod", "mongodb://db1.example/", favorite_id=prod.id)
    assert not edited.read_only  # the dialog's checkbox decides on every save
    again = FavoritesStore()
    assert [f.read_only for f in again.favorites] == [False, True, True]
    document = json.loads((data_dir / "favorites.json").read_text())
    assert [f["read_only"] for f in document["favorites"]] == [False, True, True]


def test_migrates_version_2_to_writable_favorites(data_dir):
    data_dir.mkdir(parents=True)
    path = data_dir / "favorites.json"
    path.write_text(json.dumps({
        "schema_version": 2, "folders": [], "recents": [],
        "favorites": [{"id": "a1", "name": "Old", "uri": "mongodb://old.example/",
                       "folder": "", "color": "", "created": 1.0, "updated": 1.0,
                       "last_used": None, "has_secret": False}],
    }))
    store = FavoritesStore()
    assert store.get("a1").read_only is False and not store.read_only
    rewritten = json.loads(path.read_text())
    assert rewritten["schema_version"] == 3
    assert rewritten["favorites"][0]["read_only"] is False


def test_only_a_real_true_makes_a_favorite_read_only(data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / "favorites.json").write_text(json.dumps({
        "schema_version": 3, "folders": [], "recents": [],
        "favorites": [{"id": "b", "name": "Hand edit", "uri": "mongodb://h/",
                       "read_only": "no"}],
    }))
    assert FavoritesStore().get("b").read_only is False


def test_secret_calls_can_be_deferred_for_a_worker(data_dir):
    store = FavoritesStore(secret_store=MemorySecretStore())
    secrets = store.secrets
    favorite, store_secret = store.save_favorite_later("A", f"mongodb://alice:{SECRET_ESCAPED}@h1/")
    assert secrets.get(favorite.id) is None  # nothing stored until the call runs
    assert SECRET not in (data_dir / "favorites.json").read_text()
    assert store_secret() is True
    assert secrets.get(favorite.id) == UriSecrets(password=SECRET)
    assert store.uri_with(favorite.id, secrets.get(favorite.id)) == store.uri_with_secrets(favorite.id)
    assert store.uri_with(favorite.id, None)[1] is True  # no secret read: ask
    copy = store.duplicate(favorite.id, copy_secret=False)
    assert secrets.get(copy.id) is None
    store.copy_secret(favorite.id, copy.id)
    assert secrets.get(copy.id) == UriSecrets(password=SECRET)
    store.delete(copy.id, forget_secret=False)
    assert secrets.get(copy.id) == UriSecrets(password=SECRET)  # left for the caller
    _again, clear_secret = store.save_favorite_later("A", "mongodb://h1/", favorite_id=favorite.id)
    assert clear_secret() is False and secrets.get(favorite.id) is None


def test_secret_saved_marks_a_persistent_store_only(data_dir):
    class Persistent(MemorySecretStore):
        persistent = True

    store = FavoritesStore(secret_store=Persistent())
    favorite, store_secret = store.save_favorite_later("A", "mongodb://alice:pw@h1/")
    assert not store.get(favorite.id).has_secret
    store_secret()
    store.secret_saved(favorite.id)
    assert store.get(favorite.id).has_secret
    store.delete(favorite.id)
    store.secret_saved(favorite.id)  # gone meanwhile: nothing to mark, no error
    memory = FavoritesStore(secret_store=MemorySecretStore())
    other, _call = memory.save_favorite_later("B", "mongodb://bob:pw@h1/")
    memory.secret_saved(other.id)
    assert not memory.get(other.id).has_secret
