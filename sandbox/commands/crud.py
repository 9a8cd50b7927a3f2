"""CRUD commands: find, insert, update, delete, findAndModify, count, distinct.

Queries run in mongomock, except an empty-filter ``find`` without sort or projection, which
streams the collection's cached pre-encoded documents (the fast path: mongomock deep-copies every
document it returns). Writes go through :class:`~sandbox.store.DataStore` so caches are dropped
and replica-set optimes move. ``writeErrors`` carry the index of the failed operation; ordered
batches stop at the first error, unordered ones go on.
"""

from __future__ import annotations

from typing import Any

import mongomock
from bson import Int64

from sandbox.bson_order import (
    NOTHING,
    NumericLiteral,
    bson_cmp,
    canonical_type,
    is_number,
    iter_key_candidates,
    numeric_filter,
)
from sandbox.commands.aggregate import (
    engine_error,
    run_find,
    run_view_pipeline,
    sort_spec,
    view_of,
)
from sandbox.commands.array_updates import (
    check_update,
    needs_rewrite,
    parse_array_filters,
    rewrite,
    upsert_seed,
)
from sandbox.commands.base import READ, WRITE, Context, command, ok
from sandbox.commands.cursors import batch_size_of, cursor_reply
from sandbox.errors import (
    BAD_VALUE,
    BSON_OBJECT_TOO_LARGE,
    COMMAND_NOT_SUPPORTED_ON_VIEW,
    CommandError,
    type_mismatch,
)
from sandbox.wire import MAX_BSON_SIZE

FAILED_TO_PARSE = 9


def _is_natural(spec: dict[str, Any]) -> bool:
    return not spec or spec == {"$natural": 1}


def _check_view_write(ctx: Context, name: str) -> None:
    if view_of(ctx, name) is not None:
        raise CommandError(COMMAND_NOT_SUPPORTED_ON_VIEW,
                           f"Namespace {ctx.db}.{name} is a view, not a collection")


@command("find", kind=READ, counter="query")
def find(ctx: Context) -> bytes:
    name = ctx.collection_name()
    namespace = f"{ctx.db}.{name}"
    flt = ctx.get_doc("filter")
    projection = ctx.get_doc("projection")
    sort = ctx.get_doc("sort")
    skip = ctx.get_int("skip")
    limit = ctx.get_int("limit")
    if skip < 0:
        raise CommandError(BAD_VALUE, f"Skip value must be non-negative, but received: {skip}")
    single_batch = ctx.get_bool("singleBatch")
    if limit < 0:  # legacy negative limit: one batch of at most -limit documents
        limit, single_batch = -limit, True
    batch_size = batch_size_of(ctx)
    view = view_of(ctx, name)
    if view is not None:
        pipeline: list[dict[str, Any]] = []
        if flt:
            pipeline.append({"$match": flt})
        if sort:
            pipeline.append({"$sort": sort})
        if skip:
            pipeline.append({"$skip": skip})
        if limit:
            pipeline.append({"$limit": limit})
        if projection:
            pipeline.append({"$project": projection})
        docs = run_view_pipeline(ctx, view, pipeline)
        return cursor_reply(ctx, namespace, docs, encoded=False, batch_size=batch_size,
                            single_batch=single_batch)
    if not ctx.store.exists(ctx.db, name):
        return cursor_reply(ctx, namespace, [], encoded=True)
    if not flt and not projection and _is_natural(sort):
        encoded = ctx.store.encoded_documents(ctx.db, name)
        return cursor_reply(ctx, namespace, encoded, encoded=True, batch_size=batch_size,
                            single_batch=single_batch, limit=limit, start=skip)
    try:
        docs = run_find(ctx.store.collection(ctx.db, name), flt, projection, sort, skip, limit)
    except Exception as exc:  # mongomock's errors become the server's error shape
        raise _translate(ctx, name, exc, None) from None
    return cursor_reply(ctx, namespace, docs, encoded=False, batch_size=batch_size,
                        single_batch=single_batch, limit=limit)


def _write_reply(n: int, errors: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    reply = ok(n=n, **extra)
    if errors:
        reply["writeErrors"] = errors
    return reply


def _operations(ctx: Context, key: str) -> list[Any]:
    value = ctx.body.get(key)
    if not isinstance(value, list):
        raise type_mismatch(f"{ctx.name}.{key}", "array", value)
    return value


@command("insert", kind=WRITE, counter="insert")
def insert(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    _check_view_write(ctx, name)
    docs = _operations(ctx, "documents")
    ordered = ctx.get_bool("ordered", True)
    raw = ctx.request.raw_sequences.get("documents")
    n, errors = 0, []
    for index, doc in enumerate(docs):
        try:
            if not isinstance(doc, dict):
                raise type_mismatch(f"insert.documents.{index}", "object", doc)
            if raw is not None and len(raw[index]) > MAX_BSON_SIZE:
                raise CommandError(BSON_OBJECT_TOO_LARGE,
                                   f"object to insert too large. size in bytes: {len(raw[index])},"
                                   f" max size: {MAX_BSON_SIZE}")
            ctx.store.insert(ctx.db, name, doc)
            n += 1
        except CommandError as exc:
            errors.append(exc.write_error(index))
            if ordered:
                break
    ctx.member.counters.opcounters["insert"] += max(len(docs) - 1, 0)
    return _write_reply(n, errors)


def _is_replacement(update: Any) -> bool:
    return isinstance(update, dict) and not any(key.startswith("$") for key in update)


def _translate(ctx: Context, name: str, exc: Exception, doc: dict[str, Any] | None) -> CommandError:
    if isinstance(exc, CommandError):
        return exc
    if isinstance(exc, mongomock.DuplicateKeyError):
        return ctx.store.explain_duplicate(ctx.db, name, doc or {})
    return engine_error(exc)


def _matcher(query: Any, upsert: bool) -> Any:
    """The filter to match with: numbers compare by value (:mod:`sandbox.bson_order`), except
    for an upsert, whose filter also seeds the new document and must keep the original values."""
    return query if upsert else numeric_filter(query)


class _UpdateOutcome:
    """What mongomock's UpdateResult offers, for updates the sandbox applies itself."""

    def __init__(self, matched: int, modified: int, upserted_id: Any = None) -> None:
        self.matched_count = matched
        self.modified_count = modified
        self.upserted_id = upserted_id


def _upsert_rewritten(collection: Any, query: dict[str, Any], change: dict[str, Any],
                      filters: dict[str, dict[str, Any]]) -> Any:
    """Upsert through a rewritten update; returns the new document's ``_id``."""
    seed = upsert_seed(query)
    engine_update = rewrite(change, seed, filters)
    if not engine_update:
        return collection.insert_one(seed).inserted_id
    return collection.update_one(query, engine_update, upsert=True).upserted_id


def _rewritten_update(collection: Any, query: dict[str, Any], change: dict[str, Any],
                      array_filters: Any, multi: bool, upsert: bool, field: str) -> _UpdateOutcome:
    """An update mongomock cannot do alone (arrayFilters, ``$[]``, ``$mul``, element
    ``$unset``): rewritten per matched document, then applied by ``_id``."""
    filters = parse_array_filters(array_filters, field)
    check_update(change, filters)
    docs = list(collection.find(query))
    if not multi:
        docs = docs[:1]
    modified = 0
    for doc in docs:
        engine_update = rewrite(change, doc, filters)
        if engine_update:
            modified += collection.update_one({"_id": doc["_id"]}, engine_update).modified_count
    if docs or not upsert:
        return _UpdateOutcome(len(docs), modified)
    return _UpdateOutcome(0, 0, _upsert_rewritten(collection, query, change, filters))


def _rewritten_find_and_modify(collection: Any, query: dict[str, Any], change: dict[str, Any],
                               sort: Any, fields: Any, upsert: bool, return_new: bool,
                               array_filters: Any) -> tuple[Any, dict[str, Any]]:
    """findAndModify's update half for updates mongomock cannot do alone."""
    filters = parse_array_filters(array_filters, "findAndModify.arrayFilters")
    check_update(change, filters)
    existing = collection.find_one(query, sort=sort)
    if existing is not None:
        key = {"_id": existing["_id"]}
        before = collection.find_one(key, fields)
        engine_update = rewrite(change, existing, filters)
        if engine_update:
            collection.update_one(key, engine_update)
        value = collection.find_one(key, fields) if return_new else before
        return value, {"n": 1, "updatedExisting": True}
    if not upsert:
        return None, {"n": 0, "updatedExisting": False}
    new_id = _upsert_rewritten(collection, query, change, filters)
    value = collection.find_one({"_id": new_id}, fields) if return_new else None
    return value, {"n": 1, "updatedExisting": False, "upserted": new_id}


@command("update", kind=WRITE, counter="update")
def update(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    _check_view_write(ctx, name)
    ops = _operations(ctx, "updates")
    ordered = ctx.get_bool("ordered", True)
    collection = ctx.store.collection(ctx.db, name)
    matched = modified = 0
    upserted: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for index, op in enumerate(ops):
        try:
            if not isinstance(op, dict) or "q" not in op or "u" not in op:
                raise CommandError(FAILED_TO_PARSE,
                                   f"update.updates.{index} must be an object with q and u")
            change = op["u"]
            multi, upsert = bool(op.get("multi")), bool(op.get("upsert"))
            query = _matcher(op["q"], upsert)
            array_filters = op.get("arrayFilters")
            if needs_rewrite(change, array_filters):
                result = _rewritten_update(collection, query, change, array_filters, multi,
                                           upsert, f"update.updates.{index}.arrayFilters")
            elif _is_replacement(change):
                if multi:
                    raise CommandError(FAILED_TO_PARSE, "multi update is not supported for "
                                                        "replacement-style update")
                # mongomock may copy the filter's _id into the replacement: match by value
                # first, then replace by the stored _id (never the matching wrapper).
                target = collection.find_one(query, {"_id": 1})
                key = {"_id": target["_id"]} if target is not None else op["q"]
                result = collection.replace_one(key, change, upsert=upsert)
            elif multi:
                result = collection.update_many(query, change, upsert=upsert,
                                                array_filters=array_filters)
            else:
                result = collection.update_one(query, change, upsert=upsert,
                                               array_filters=array_filters)
            matched += result.matched_count
            modified += result.modified_count
            if result.upserted_id is not None:
                upserted.append({"index": index, "_id": result.upserted_id})
            ctx.store.wrote(ctx.db, name)
        except Exception as exc:  # every failure becomes a writeErrors entry
            ctx.store.wrote(ctx.db, name)
            errors.append(_translate(ctx, name, exc, op.get("u") if isinstance(op, dict)
                                     else None).write_error(index))
            if ordered:
                break
    extra: dict[str, Any] = {"nModified": modified}
    if upserted:
        extra["upserted"] = upserted
    return _write_reply(matched + len(upserted), errors, **extra)


@command("delete", kind=WRITE, counter="delete")
def delete(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    _check_view_write(ctx, name)
    ops = _operations(ctx, "deletes")
    ordered = ctx.get_bool("ordered", True)
    collection = ctx.store.collection(ctx.db, name)
    n, errors = 0, []
    for index, op in enumerate(ops):
        try:
            if not isinstance(op, dict) or "q" not in op or "limit" not in op:
                raise CommandError(FAILED_TO_PARSE,
                                   f"delete.deletes.{index} must be an object with q and limit")
            if op["limit"] not in (0, 1):
                raise CommandError(FAILED_TO_PARSE, "The limit field in delete objects must be "
                                                    "0 or 1. Got " + repr(op["limit"]))
            query = _matcher(op["q"], upsert=False)
            if op["limit"] == 1:
                n += collection.delete_one(query).deleted_count
            else:
                n += collection.delete_many(query).deleted_count
        except Exception as exc:
            errors.append(_translate(ctx, name, exc, None).write_error(index))
            if ordered:
                break
    ctx.store.wrote(ctx.db, name)
    return _write_reply(n, errors)


@command("findAndModify", "findandmodify", kind=WRITE, counter="command")
def find_and_modify(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    _check_view_write(ctx, name)
    collection = ctx.store.collection(ctx.db, name)
    query = ctx.get_doc("query")
    sort = sort_spec(ctx.get_doc("sort"))
    fields = ctx.get_doc("fields") or None
    remove = ctx.get_bool("remove")
    change = ctx.body.get("update")
    upsert = ctx.get_bool("upsert")
    return_new = ctx.get_bool("new")
    query = _matcher(query, upsert and not remove)
    if remove == (change is not None):
        raise CommandError(FAILED_TO_PARSE, "Either an update or remove=true must be specified")
    last_error: dict[str, Any]
    try:
        if isinstance(change, dict) and not remove and not _is_replacement(change) \
                and needs_rewrite(change, ctx.body.get("arrayFilters")):
            value, last_error = _rewritten_find_and_modify(
                collection, query, change, sort, fields, upsert, return_new,
                ctx.body.get("arrayFilters"))
        elif remove:
            value = collection.find_one_and_delete(query, projection=fields, sort=sort)
            last_error = {"n": 1 if value is not None else 0}
        else:
            existing = collection.find_one(query, sort=sort)
            method = (collection.find_one_and_replace if _is_replacement(change)
                      else collection.find_one_and_update)
            kwargs = {} if _is_replacement(change) else {
                "array_filters": ctx.body.get("arrayFilters")}
            # By the stored _id once matched, so no matching wrapper reaches a document.
            key = {"_id": existing["_id"]} if existing is not None else query
            value = method(key, change, projection=fields, sort=sort, upsert=upsert,
                           return_document=return_new, **{k: v for k, v in kwargs.items() if v})
            last_error = {"n": 1 if existing is not None or upsert else 0,
                          "updatedExisting": existing is not None}
            if existing is None and upsert:
                after = value if return_new and value is not None else collection.find_one(
                    query, sort=sort)
                if after is not None:
                    last_error["upserted"] = after.get("_id")
    except Exception as exc:
        ctx.store.wrote(ctx.db, name)
        raise _translate(ctx, name, exc, change if isinstance(change, dict) else None) from None
    ctx.store.wrote(ctx.db, name)
    return ok(lastErrorObject=last_error, value=value)


@command("count", kind=READ, counter="command")
def count(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    query = ctx.get_doc("query")
    skip, limit = ctx.get_int("skip"), abs(ctx.get_int("limit"))
    view = view_of(ctx, name)
    if view is not None:
        n = len(run_view_pipeline(ctx, view, [{"$match": query}] if query else []))
    elif not ctx.store.exists(ctx.db, name):
        n = 0
    elif not query:
        n = ctx.store.count(ctx.db, name)
    else:
        n = len(run_find(ctx.store.collection(ctx.db, name), query, {"_id": 1}, None))
    n = max(n - skip, 0)
    if limit:
        n = min(n, limit)
    return ok(n=n)


@command("distinct", kind=READ, counter="command")
def distinct(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    key = ctx.body.get("key")
    if not isinstance(key, str):
        raise type_mismatch("distinct.key", "string", key)
    query = ctx.get_doc("query")
    if not ctx.store.exists(ctx.db, name):
        return ok(values=[])
    try:
        docs = run_find(ctx.store.collection(ctx.db, name), query, None, None)
        values = _distinct_values(docs, key)
    except Exception as exc:
        raise _translate(ctx, name, exc, None) from None
    return ok(values=values)


def _distinct_values(docs: list[dict[str, Any]], key: str) -> list[Any]:
    """The distinct values of ``key`` (array elements count one by one), first seen first.

    Values equal in MongoDB's order are one value: ``1``, ``1.0`` and ``Decimal128("1.00")``
    included (Decimal128 and documents are unhashable, so they are compared one by one)."""
    hashed: set[Any] = set()
    others: list[Any] = []
    values: list[Any] = []
    for doc in docs:
        for found in iter_key_candidates(key, doc):
            if found is NOTHING:
                continue
            for value in found if isinstance(found, list | tuple) else [found]:
                if is_number(value):
                    marker: Any = (canonical_type(value), NumericLiteral(value))
                elif isinstance(value, dict | list | bytes) or not _hashable(value):
                    if any(bson_cmp(value, seen) == 0 for seen in others):
                        continue
                    others.append(value)
                    values.append(value)
                    continue
                else:
                    marker = (canonical_type(value), value)
                if marker not in hashed:
                    hashed.add(marker)
                    values.append(value)
    return values


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def as_int64(value: int) -> Int64:
    return Int64(value)
