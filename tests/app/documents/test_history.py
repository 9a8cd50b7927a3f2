"""QueryStore: last 50 per collection, newest first, favourites, atomic versioned file."""

from __future__ import annotations

import json

import pytest

from app.documents.query.history import HISTORY_LIMIT, QueryStore


def test_history_keeps_the_last_fifty_newest_first(tmp_path):
    store = QueryStore(tmp_path)
    key = QueryStore.key("fav1", "shop", "orders")
    for number in range(60):
        store.record(key, {"filter": f"{{n: {number}}} // #{number}", "limit": "10"})
    store.record(key, {"filter": "{n: 30} // #30", "limit": "10"})  # again: moves to front
    store.record(key, {"filter": "  ", "sort": ""})  # empty query: not recorded
    history = QueryStore(tmp_path).history(key)
    assert len(history) == HISTORY_LIMIT
    assert history[0] == {"filter": "{n: 30} // #30", "limit": "10"}
    assert history[1]["filter"].endswith("#59") and history[-1]["filter"].endswith("#10")
    assert QueryStore(tmp_path).history(QueryStore.key("fav1", "shop", "other")) == []


def test_favorites_and_bad_input(tmp_path):
    store = QueryStore(tmp_path)
    key = "c/db.coll"
    store.save_favorite(key, "big", {"filter": "{total: {$gt: 1000}}"})
    store.save_favorite(key, "big", {"filter": "{total: {$gt: 5000}}"})  # replaces
    assert QueryStore(tmp_path).favorites(key) == {"big": {"filter": "{total: {$gt: 5000}}"}}
    assert store.remove_favorite(key, "big") and not store.remove_favorite(key, "big")
    with pytest.raises(ValueError, match="needs a name"):
        store.save_favorite(key, " ", {"filter": "{}"})
    with pytest.raises(ValueError, match="unknown query field"):
        store.record(key, {"where": "{}"})
    with pytest.raises(TypeError, match="text typed"):
        store.record(key, {"filter": {"a": 1}})


def test_file_is_versioned_and_bad_files_are_moved_aside(tmp_path):
    store = QueryStore(tmp_path)
    store.record("k", {"filter": "{a: 1}"})
    document = json.loads((tmp_path / "queries.json").read_text(encoding="utf-8"))
    assert document["schema_version"] == 1 and "k" in document["collections"]
    assert [p.name for p in tmp_path.iterdir()] == ["queries.json"]  # no temp file left
    (tmp_path / "queries.json").write_text("{not json", encoding="utf-8")
    fresh = QueryStore(tmp_path)
    assert fresh.history("k") == [] and "could not be read" in fresh.notices[0]
    assert any(p.name.startswith("queries.json.corrupt-") for p in tmp_path.iterdir())


def test_newer_file_is_read_only(tmp_path):
    (tmp_path / "queries.json").write_text(
        json.dumps(
            {
                "schema_version": 9,
                "collections": {
                    "k": {"history": [{"query": {"filter": "{}x"}, "at": ""}], "favorites": []}
                },
            }
        ),
        encoding="utf-8",
    )
    store = QueryStore(tmp_path)
    assert store.read_only and store.history("k") == [{"filter": "{}x"}]
    with pytest.raises(PermissionError, match="newer Binnacle"):
        store.record("k", {"filter": "{b: 1}"})
