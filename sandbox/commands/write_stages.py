"""``$out`` and ``$merge``, the write stages of ``aggregate``, done by the sandbox itself.

mongomock has no ``$merge`` and an ``$out`` that takes only a collection name and is not
all-or-nothing, so :func:`split_write_stage` takes the final write stage off a pipeline, the rest
runs in mongomock, and :func:`apply_write_stage` writes the results through the
:class:`~sandbox.store.DataStore` (so caches drop and replica-set optimes move). The aggregate
then answers an empty cursor, as a real server does.

``$out`` replaces the target's documents (its indexes stay), all or nothing. ``$merge`` matches
each result to a target document on the ``on`` fields (``_id`` by default; other fields need a
unique index on exactly them), then applies ``whenMatched`` (merge | replace | keepExisting |
fail) or ``whenNotMatched`` (insert | discard | fail). The pipeline form of ``whenMatched`` is
refused with a clear error.
"""

from __future__ import annotations

from typing import Any

from sandbox.commands.base import Context
from sandbox.errors import (
    BAD_VALUE,
    COMMAND_NOT_SUPPORTED_ON_VIEW,
    CommandError,
    type_mismatch,
)
from sandbox.store import get_value_by_dot, with_id_first

WRITE_STAGES = ("$out", "$merge")
FAILED_TO_PARSE = 9
IMMUTABLE_FIELD = 66
FINAL_STAGE_ONLY = 40601  # "$out can only be the final stage in the pipeline"
OUT_BAD_ARGUMENT = 16990
MERGE_MISSING_FIELD = 40414
MERGE_UNKNOWN_FIELD = 40415
MERGE_NO_MATCHING_DOCUMENT = 13113
MERGE_ON_FIELD_INVALID = 51132
MERGE_NO_UNIQUE_INDEX = 51183
MERGE_EMPTY_ON = 51187
WHEN_MATCHED = ("merge", "replace", "keepExisting", "fail")
WHEN_NOT_MATCHED = ("insert", "discard", "fail")
MERGE_FIELDS = ("into", "on", "let", "whenMatched", "whenNotMatched", "targetCollectionVersion")
_MISSING = object()


def _stage_name(stage: Any) -> str | None:
    if isinstance(stage, dict) and len(stage) == 1:
        name = next(iter(stage))
        if name in WRITE_STAGES:
            return str(name)
    return None


def split_write_stage(pipeline: list[Any]) -> tuple[list[Any], dict[str, Any] | None]:
    """``(stages to run, the final $out/$merge stage or None)``; a write stage elsewhere fails."""
    for index, stage in enumerate(pipeline[:-1]):
        name = _stage_name(stage)
        if name is not None:
            raise CommandError(FINAL_STAGE_ONLY,
                               f"{name} can only be the final stage in the pipeline (stage {index})")
    if pipeline and _stage_name(pipeline[-1]) is not None:
        return pipeline[:-1], pipeline[-1]
    return pipeline, None


def write_target(ctx: Context, stage: dict[str, Any]) -> tuple[str, str]:
    """The ``(database, collection)`` a write stage writes to."""
    name = next(iter(stage))
    spec = stage[name]
    if name == "$out":
        return _namespace(ctx, spec, "$out", OUT_BAD_ARGUMENT)
    if isinstance(spec, str):
        return _namespace(ctx, spec, "$merge.into", BAD_VALUE)
    if not isinstance(spec, dict):
        raise type_mismatch("$merge", "object", spec)
    if "into" not in spec:
        raise CommandError(MERGE_MISSING_FIELD,
                           "BSON field '$merge.into' is missing but a required field")
    return _namespace(ctx, spec["into"], "$merge.into", BAD_VALUE)


def _namespace(ctx: Context, spec: Any, field: str, code: int) -> tuple[str, str]:
    if isinstance(spec, str):
        db, coll = ctx.db, spec
    elif isinstance(spec, dict) and set(spec) <= {"db", "coll", "timeseries"} and "coll" in spec:
        if "timeseries" in spec:
            raise CommandError(BAD_VALUE, f"not supported by the sandbox: {field} into a time "
                                          "series collection")
        db, coll = spec.get("db", ctx.db), spec["coll"]
    else:
        raise CommandError(code, f"{field} only supports a string or an object with 'db' and "
                                 f"'coll', not {spec!r}")
    if not isinstance(db, str) or not isinstance(coll, str) or not db or not coll \
            or "$" in coll or "\x00" in coll:
        raise CommandError(73, f"Invalid {field} target namespace: {db!r}.{coll!r}")
    return db, coll


def _refuse_view(ctx: Context, db: str, coll: str) -> None:
    info = ctx.store.catalog.get((db, coll))
    if info is not None and info.kind == "view":
        raise CommandError(COMMAND_NOT_SUPPORTED_ON_VIEW,
                           f"Namespace {db}.{coll} is a view, not a collection")


def apply_write_stage(ctx: Context, stage: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    """Write an aggregate's results as its final ``$out`` / ``$merge`` stage says."""
    db, coll = write_target(ctx, stage)
    _refuse_view(ctx, db, coll)
    if "$out" in stage:
        ctx.store.replace_contents(db, coll, docs)
    else:
        _merge(ctx, db, coll, stage["$merge"], docs)


def _enum(spec: dict[str, Any], field: str, allowed: tuple[str, ...], default: str) -> str:
    value = spec.get(field, default)
    if isinstance(value, list) and field == "whenMatched":
        raise CommandError(BAD_VALUE, "not supported by the sandbox: a pipeline for "
                                      "$merge.whenMatched")
    if not isinstance(value, str):
        raise type_mismatch(f"$merge.{field}", "string", value)
    if value not in allowed:
        raise CommandError(BAD_VALUE, f"Enumeration value '{value}' for field '$merge.{field}' "
                                      "is not a valid value.")
    return value


def _on_fields(spec: dict[str, Any]) -> list[str]:
    on = spec.get("on", "_id")
    fields = [on] if isinstance(on, str) else on
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise type_mismatch("$merge.on", "string or array of strings", on)
    if not fields:
        raise CommandError(MERGE_EMPTY_ON, "If explicitly specifying $merge 'on', must include "
                                           "at least one field")
    return list(dict.fromkeys(fields))


def _unique_index_for(ctx: Context, db: str, coll: str, on: list[str]) -> str:
    """The name of a unique index on exactly the ``on`` fields (the server requires one)."""
    if on == ["_id"]:
        return "_id_"
    if ctx.store.exists(db, coll):
        for index_name, info in ctx.store.collection(db, coll).index_information().items():
            if info.get("unique") and {field for field, _d in info["key"]} == set(on):
                return str(index_name)
    raise CommandError(MERGE_NO_UNIQUE_INDEX, "Cannot find index to verify that join fields "
                                              "will be unique")


def _key_of(doc: dict[str, Any], on: list[str]) -> dict[str, Any]:
    key: dict[str, Any] = {}
    for field in on:
        try:
            value = get_value_by_dot(doc, field)
        except (KeyError, IndexError, TypeError):
            value = _MISSING
        if value is _MISSING or value is None or isinstance(value, list):
            raise CommandError(MERGE_ON_FIELD_INVALID, "$merge write error: 'on' field cannot be "
                                                       "missing, null, undefined or an array")
        key[field] = value
    return key


def _merge(ctx: Context, db: str, coll: str, spec: Any, docs: list[dict[str, Any]]) -> None:
    if isinstance(spec, str):
        spec = {"into": spec}
    unknown = [field for field in spec if field not in MERGE_FIELDS]
    if unknown:
        raise CommandError(MERGE_UNKNOWN_FIELD, f"BSON field '$merge.{unknown[0]}' is an unknown "
                                                "field.")
    when_matched = _enum(spec, "whenMatched", WHEN_MATCHED, "merge")
    when_not_matched = _enum(spec, "whenNotMatched", WHEN_NOT_MATCHED, "insert")
    on = _on_fields(spec)
    index_name = _unique_index_for(ctx, db, coll, on)
    store = ctx.store
    collection = store.collection(db, coll)
    try:
        for doc in docs:
            if on == ["_id"]:
                doc = with_id_first(doc)  # a result without _id gets a fresh one, then inserts
            key = _key_of(doc, on)
            target = collection.find_one(key)
            if target is None:
                if when_not_matched == "insert":
                    store.insert(db, coll, doc)
                elif when_not_matched == "fail":
                    raise CommandError(MERGE_NO_MATCHING_DOCUMENT,
                                       "$merge could not find a matching document in the target "
                                       "collection for at least one document in the source "
                                       "collection")
                continue
            if when_matched == "keepExisting":
                continue
            if when_matched == "fail":
                raise store.duplicate_key_error(db, coll, index_name,
                                                {field: 1 for field in on}, key)
            if "_id" in doc and doc["_id"] != target["_id"]:
                raise CommandError(IMMUTABLE_FIELD,
                                   "$merge failed to update the matching document, did you "
                                   "attempt to modify the _id or the shard key? :: caused by :: "
                                   "Performing an update on the path '_id' would modify the "
                                   "immutable field '_id'")
            fields = {k: v for k, v in doc.items() if k != "_id"}
            if when_matched == "replace":
                collection.replace_one({"_id": target["_id"]}, fields)
            elif fields:
                collection.update_one({"_id": target["_id"]}, {"$set": fields})
    finally:
        store.info(db, coll)
        store.wrote(db, coll)
