"""The connection dialog with a keychain that blocks (issue 14): every secret-store call
runs on the worker pool, the dialog shows what it waits for, Connect waits with it, a
newer choice drops an older read, Cancel falls back to asking, and a corrupt entry is
a message, not a crash."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from app.connect.dialog import ConnectionDialog
from app.connect.favorites import FavoritesStore
from app.connect.keychain import READING, SAVING
from app.connect.secrets import KEYRING_SERVICE, KeyringSecretStore
from driver.connection_string.uri import parse_uri
from tests.gui_ticks import TickMeter


class LockedKeychain:
    """A keyring backend whose calls for a gated key block until the gate opens."""

    def __init__(self) -> None:
        self.vault: dict[str, str] = {}
        self.gates: dict[str, threading.Event] = {}
        self.entered: dict[str, threading.Event] = {}

    def gate(self, key: str) -> threading.Event:
        self.entered[key] = threading.Event()
        self.gates[key] = threading.Event()
        return self.gates[key]

    def _wait(self, key: str) -> None:
        if key in self.gates:
            self.entered[key].set()
            assert self.gates[key].wait(10), "the test never released the keychain"

    def get_password(self, service: str, key: str) -> str | None:
        assert service == KEYRING_SERVICE
        self._wait(key)
        return self.vault.get(key)

    def set_password(self, service: str, key: str, value: str) -> None:
        self._wait(key)
        self.vault[key] = value

    def delete_password(self, service: str, key: str) -> None:
        self._wait(key)
        self.vault.pop(key, None)

    def release_all(self) -> None:
        for gate in self.gates.values():
            gate.set()


@pytest.fixture
def keychain():
    backend = LockedKeychain()
    yield backend
    backend.release_all()  # no worker stays blocked after a failing test


@pytest.fixture
def store(data_dir, keychain):
    store = FavoritesStore(secret_store=KeyringSecretStore(keychain))
    store.save_favorite("A", "mongodb://alice:pw-of-a@a.example/")
    store.save_favorite("B", "mongodb://bob:pw-of-b@b.example/")
    return store


def _id(store, name):
    return next(f.id for f in store.favorites if f.name == name)


@pytest.fixture
def dialog(qtbot, store, pool, aloop):
    dialog = ConnectionDialog("mongodb://localhost:27017", favorites=store, pool=pool)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


async def _until(condition, timeout=5.0):
    for _ in range(int(timeout / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def _password(dialog):
    return parse_uri(dialog.uri()).password


def test_a_locked_keychain_does_not_freeze_the_dialog(dialog, store, keychain, aloop):
    gate = keychain.gate(_id(store, "A"))
    meter = TickMeter()

    async def scenario():
        meter.start()
        dialog.favorites_panel.choose(_id(store, "A"))  # returns at once: the read waits
        assert keychain.entered[_id(store, "A")].wait(5)
        await asyncio.sleep(0.3)  # the keychain is "locked" meanwhile
        assert dialog.keychain_wait.isVisible() and dialog.keychain_wait.text() == READING
        assert dialog.keychain_cancel.isVisible()
        assert not dialog.connect_button.isEnabled()  # Connect waits for the password
        gate.set()
        await _until(lambda: not dialog.keychain_wait.isVisible())
        meter.stop()

    aloop.run_until_complete(scenario())
    meter.assert_responsive("favorite chosen while the keychain is locked", min_ticks=3)
    assert _password(dialog) == "pw-of-a"
    assert dialog.connect_button.isEnabled()


def test_choosing_another_favorite_drops_the_older_read(dialog, store, keychain, aloop):
    gate = keychain.gate(_id(store, "A"))

    async def scenario():
        dialog.favorites_panel.choose(_id(store, "A"))
        assert keychain.entered[_id(store, "A")].wait(5)
        dialog.favorites_panel.choose(_id(store, "B"))
        await _until(lambda: dialog.uri_edit.text().startswith("mongodb://bob"))
        assert _password(dialog) == "pw-of-b"
        gate.set()  # A's answer arrives late
        await asyncio.sleep(0.3)  # A's worker returns; its result is dropped

    aloop.run_until_complete(scenario())
    assert _password(dialog) == "pw-of-b" and dialog.username_edit.text() == "bob"
    assert not dialog.keychain_wait.isVisible()


def test_cancel_stops_waiting_and_asks_for_the_password(dialog, store, keychain, aloop):
    keychain.gate(_id(store, "A"))

    async def scenario():
        dialog.favorites_panel.choose(_id(store, "A"))
        assert keychain.entered[_id(store, "A")].wait(5)
        await _until(lambda: dialog.keychain_wait.isVisible())
        dialog.keychain_cancel.click()
        keychain.release_all()
        await asyncio.sleep(0.2)  # the cancelled read's answer is dropped

    aloop.run_until_complete(scenario())
    assert not dialog.keychain_wait.isVisible()
    assert dialog.username_edit.text() == "alice"
    assert dialog.focusWidget() is dialog.password_edit
    assert not dialog.connect_button.isEnabled()  # the password is still to be typed


def test_a_corrupt_keychain_entry_is_a_message(dialog, store, keychain, aloop):
    keychain.vault[_id(store, "A")] = "{not json"

    async def scenario():
        dialog.favorites_panel.choose(_id(store, "A"))
        await _until(lambda: dialog.status_note.isVisible())

    aloop.run_until_complete(scenario())
    assert "not a Binnacle secret" in dialog.status_note.text()
    assert dialog.username_edit.text() == "alice"
    assert not dialog.connect_button.isEnabled()  # asks for the password instead


def test_saving_a_favorite_does_not_wait_for_the_keychain(
        qtbot, data_dir, keychain, pool, aloop):
    store = FavoritesStore(secret_store=KeyringSecretStore(keychain))
    dialog = ConnectionDialog("mongodb://carol:S3cret-C@c.example/", favorites=store, pool=pool)
    qtbot.addWidget(dialog)
    dialog.show()
    original_set = keychain.set_password
    gate = threading.Event()
    entered = threading.Event()

    def blocking_set(service, key, value):
        entered.set()
        assert gate.wait(10)
        original_set(service, key, value)

    keychain.set_password = blocking_set
    meter = TickMeter()

    async def scenario():
        meter.start()
        favorite_id = dialog.save_as_favorite("C")  # returns while the keychain blocks
        assert entered.wait(5)
        await asyncio.sleep(0.3)
        assert dialog.keychain_wait.isVisible() and dialog.keychain_wait.text() == SAVING
        assert not store.get(favorite_id).has_secret
        gate.set()
        await _until(lambda: store.get(favorite_id).has_secret)
        meter.stop()
        return favorite_id

    favorite_id = aloop.run_until_complete(scenario())
    gate.set()
    meter.assert_responsive("favorite saved while the keychain is locked", min_ticks=3)
    assert b"S3cret-C" not in (data_dir / "favorites.json").read_bytes()
    assert json.loads(keychain.vault[favorite_id])["password"] == "S3cret-C"
    assert not dialog.keychain_wait.isVisible()


def test_duplicate_and_delete_go_through_the_keychain_runner(dialog, store, keychain, aloop):
    original = _id(store, "A")

    async def scenario():
        dialog.favorites_panel.duplicate(original)
        copy = next(f.id for f in store.favorites if f.name == "A (copy)")
        await _until(lambda: copy in keychain.vault)
        dialog.favorites_panel.delete(original)
        await _until(lambda: original not in keychain.vault)
        return copy

    copy = aloop.run_until_complete(scenario())
    assert json.loads(keychain.vault[copy])["password"] == "pw-of-a"
    assert original not in {f.id for f in store.favorites}
