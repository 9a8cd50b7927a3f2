"""The explorer's create and drop dialogs, and the words the tree uses for failures."""

from __future__ import annotations

import pytest

from app.explorer.dialogs import (
    ConfirmDropDialog,
    CreateDialog,
    collection_name_problem,
    database_name_problem,
)
from app.explorer.tree_model import describe_error
from app.window import connection_label
from driver.errors import OperationFailure, ServerSelectionTimeoutError
from tests.app.test_e2e_window import dispose


@pytest.mark.parametrize(("name", "problem"), [
    ("", "empty"), ("my.db", "'.'"), ("a b", "' '"), ("x$y", "'$'"), ("a/b", "'/'"),
    ("d" * 64, "63 bytes"),
])
def test_bad_database_names_say_which_part_is_wrong(name, problem):
    message = database_name_problem(name)
    assert message is not None and problem in message


@pytest.mark.parametrize(("name", "problem"), [
    ("", "empty"), ("a$b", "'$'"), ("system.x", "reserved"), (".x", "start or end"),
    ("x\0y", "null"),
])
def test_bad_collection_names_say_which_part_is_wrong(name, problem):
    message = collection_name_problem(name)
    assert message is not None and problem in message


def test_good_names_pass():
    assert database_name_problem("shop_2024") is None
    assert collection_name_problem("orders.archive") is None


@pytest.fixture
def own():
    objects: list = []
    yield objects.append
    dispose(*objects)


def test_create_dialog_enables_ok_only_for_valid_names(own):
    dialog = CreateDialog()
    own(dialog)
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    assert not ok.isEnabled() and dialog.problem.text() == ""
    dialog.database_edit.setText("new.db")
    dialog.collection_edit.setText("first")
    assert not ok.isEnabled() and "'.'" in dialog.problem.text()
    dialog.database_edit.setText("newdb")
    assert ok.isEnabled() and dialog.names() == ("newdb", "first")
    for_collection = CreateDialog(database="shop")
    own(for_collection)
    assert for_collection.database_edit.isReadOnly()
    assert for_collection.windowTitle() == "Create collection"


def test_drop_needs_the_exact_name_typed(own):
    dialog = ConfirmDropDialog("collection", "orders", detail="(in database shop)")
    own(dialog)
    accepted = []
    dialog.accepted.connect(lambda: accepted.append(True))
    dialog.show()
    assert not dialog.ok_button.isEnabled()
    dialog.name_edit.setText("Orders")
    assert not dialog.ok_button.isEnabled()
    dialog.accept()  # e.g. Enter in the field: refused while the name differs
    assert not accepted
    dialog.name_edit.setText("orders")
    assert dialog.ok_button.isEnabled()
    dialog.ok_button.click()
    assert accepted == [True]


def test_connection_label_never_shows_credentials():
    assert connection_label("mongodb://ann:pw@a.example:27017,b.example/?replicaSet=rs") == \
        "a.example:27017, b.example"
    assert connection_label("mongodb+srv://u:p%40ss@cluster0.ab12c.mongodb.net/shop") == \
        "cluster0.ab12c.mongodb.net"


def test_failures_are_described_in_words():
    auth = OperationFailure("Authentication failed.", 18)
    assert describe_error(auth).startswith("Authentication failed: check the user name")
    timeout = ServerSelectionTimeoutError("127.0.0.1:1: connection refused")
    assert describe_error(timeout).startswith("No server could be reached in time")
    assert describe_error(ValueError("bad")) == "ValueError: bad"
