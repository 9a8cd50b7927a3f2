"""Catalogue commands: databases, collections (plain, views, time series) and indexes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mongomock
from bson import Binary
from mongomock import filtering

from sandbox.commands.base import READ, WRITE, Context, command, ok
from sandbox.commands.cursors import cursor_reply
from sandbox.errors import (
    BAD_VALUE,
    INDEX_NOT_FOUND,
    INVALID_NAMESPACE,
    INVALID_OPTIONS,
    NAMESPACE_EXISTS,
    NAMESPACE_NOT_FOUND,
    CommandError,
    type_mismatch,
)

filter_applies: Callable[[dict[str, Any], dict[str, Any]], bool] = filtering.filter_applies
INDEX_KEY_SPECS_CONFLICT = 86
INDEX_OPTIONS_CONFLICT = 85
SYSTEM_DATABASES = ("admin", "config", "local")
_INDEX_STORED_FIELDS = ("unique", "sparse", "expireAfterSeconds", "partialFilterExpression")


def database_size(ctx: Context, db: str) -> int:
    total = 0
    for name in ctx.store.collection_names(db):
        info = ctx.store.catalog.get((db, name))
        if info is not None and info.kind == "view":
            continue
        if ctx.store.is_lazy(db, name):
            total += info.estimate[1] if info is not None and info.estimate else 0
        else:
            total += ctx.store.data_size(db, name)
    return total


@command("listDatabases", kind=READ, counter="command")
def list_databases(ctx: Context) -> dict[str, Any]:
    names = sorted(set(ctx.store.database_names()) | set(SYSTEM_DATABASES))
    flt = ctx.get_doc("filter")
    databases = []
    for name in names:
        if ctx.get_bool("nameOnly"):
            entry: dict[str, Any] = {"name": name}
        else:
            size = database_size(ctx, name)
            entry = {"name": name, "sizeOnDisk": max(size, 8192), "empty": size == 0}
        if flt and not filter_applies(flt, entry):
            continue
        databases.append(entry)
    if ctx.get_bool("nameOnly"):
        return ok(databases=databases)
    total = sum(d["sizeOnDisk"] for d in databases)
    return ok(databases=databases, totalSize=total, totalSizeMb=total // (1024 * 1024))


def collection_entry(ctx: Context, name: str) -> dict[str, Any]:
    info = ctx.store.info(ctx.db, name)
    entry: dict[str, Any] = {"name": name, "type": info.kind, "options": dict(info.options),
                             "info": {"readOnly": info.kind == "view"}}
    if info.kind != "view":
        entry["info"]["uuid"] = Binary.from_uuid(info.uuid)
        entry["idIndex"] = {"v": 2, "key": {"_id": 1}, "name": "_id_"}
    return entry


@command("listCollections", kind=READ, counter="command")
def list_collections(ctx: Context) -> bytes:
    flt = ctx.get_doc("filter")
    name_only = ctx.get_bool("nameOnly")
    docs = []
    for name in ctx.store.collection_names(ctx.db):
        entry = collection_entry(ctx, name)
        if flt and not filter_applies(flt, entry):
            continue
        if name_only:
            entry = {"name": name, "type": entry["type"]}
        docs.append(entry)
    cursor_opts = ctx.get_doc("cursor")
    return cursor_reply(ctx, f"{ctx.db}.$cmd.listCollections", docs, encoded=False,
                        batch_size=cursor_opts.get("batchSize"))


@command("create", kind=WRITE, counter="command")
def create(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    if ctx.store.exists(ctx.db, name):
        raise CommandError(NAMESPACE_EXISTS, f"Collection {ctx.db}.{name} already exists.")
    options = {k: v for k, v in ctx.body.items()
               if k not in ("create", "$db", "lsid", "$clusterTime", "$readPreference",
                            "writeConcern", "txnNumber", "comment", "apiVersion", "apiStrict",
                            "apiDeprecationErrors")}
    info = ctx.store.info(ctx.db, name)
    if "viewOn" in options:
        if not isinstance(options["viewOn"], str):
            raise type_mismatch("create.viewOn", "string", options["viewOn"])
        pipeline = options.setdefault("pipeline", [])
        if not isinstance(pipeline, list):
            raise type_mismatch("create.pipeline", "array", pipeline)
        info.kind = "view"
        info.options = options
        ctx.store.wrote(ctx.db)
        return ok()
    if "timeseries" in options:
        series = dict(options["timeseries"])
        if "timeField" not in series:
            raise CommandError(BAD_VALUE, "timeseries.timeField is required")
        series.setdefault("granularity", "seconds")
        series.setdefault("bucketMaxSpanSeconds", 3600)
        options["timeseries"] = series
        info.kind = "timeseries"
    info.options = options
    ctx.store.client[ctx.db].create_collection(name)
    ctx.store.wrote(ctx.db, name)
    return ok()


@command("drop", kind=WRITE, counter="command")
def drop(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    indexes = 0
    if ctx.store.exists(ctx.db, name) and ctx.store.info(ctx.db, name).kind != "view":
        indexes = len(ctx.store.collection(ctx.db, name).index_information())
    ctx.store.drop(ctx.db, name)
    return ok(nIndexesWas=indexes, ns=f"{ctx.db}.{name}")


@command("dropDatabase", kind=WRITE, counter="command")
def drop_database(ctx: Context) -> dict[str, Any]:
    ctx.store.drop_database(ctx.db)
    return ok(dropped=ctx.db)


def _split_namespace(value: Any, field_name: str) -> tuple[str, str]:
    if not isinstance(value, str):
        raise type_mismatch(field_name, "string", value)
    db, dot, name = value.partition(".")
    if not dot or not db or not name:
        raise CommandError(INVALID_NAMESPACE, f"Invalid namespace specified '{value}'")
    return db, name


@command("renameCollection", kind=WRITE, counter="command")
def rename_collection(ctx: Context) -> dict[str, Any]:
    if ctx.db != "admin":
        raise CommandError(13, "renameCollection may only be run against the admin database.")
    src_db, src = _split_namespace(ctx.argument, "renameCollection")
    dst_db, dst = _split_namespace(ctx.body.get("to"), "to")
    store = ctx.store
    if not store.exists(src_db, src):
        raise CommandError(NAMESPACE_NOT_FOUND, f"Source collection {src_db}.{src} does not exist")
    if store.exists(dst_db, dst):
        if not ctx.get_bool("dropTarget"):
            raise CommandError(NAMESPACE_EXISTS, "target namespace exists")
        store.drop(dst_db, dst)
    docs = list(store.documents(src_db, src))
    indexes = dict(store._raw_store(src_db, src).indexes)
    info = store.catalog.get((src_db, src))
    store.drop(src_db, src)
    store.bulk_load(dst_db, dst, docs)
    store._raw_store(dst_db, dst).indexes.update(indexes)
    if info is not None:
        store.catalog[(dst_db, dst)] = info
    return ok()


def _index_document(name: str, info: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"v": 2, "key": dict(info["key"]), "name": name}
    for key in _INDEX_STORED_FIELDS:
        if key in info:
            doc[key] = info[key]
    doc.update(extra)
    return doc


def list_index_documents(ctx: Context, name: str) -> list[dict[str, Any]]:
    info = ctx.store.info(ctx.db, name)
    collection = ctx.store.collection(ctx.db, name)
    return [_index_document(index_name, spec, info.index_extra.get(index_name, {}))
            for index_name, spec in collection.index_information().items()]


@command("listIndexes", kind=READ, counter="command")
def list_indexes(ctx: Context) -> bytes:
    name = ctx.collection_name()
    if not ctx.store.exists(ctx.db, name) or ctx.store.info(ctx.db, name).kind == "view":
        raise CommandError(NAMESPACE_NOT_FOUND, f"ns does not exist: {ctx.db}.{name}")
    docs = list_index_documents(ctx, name)
    return cursor_reply(ctx, f"{ctx.db}.{name}", docs, encoded=False,
                        batch_size=ctx.get_doc("cursor").get("batchSize"))


@command("createIndexes", kind=WRITE, counter="command")
def create_indexes(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    specs = ctx.body.get("indexes")
    if not isinstance(specs, list) or not specs:
        raise CommandError(BAD_VALUE, "Must specify at least one index to create")
    created_automatically = not ctx.store.exists(ctx.db, name)
    if created_automatically:
        ctx.store.client[ctx.db].create_collection(name)
    collection = ctx.store.collection(ctx.db, name)
    raw = ctx.store._raw_store(ctx.db, name)
    info = ctx.store.info(ctx.db, name)
    before = len(raw.indexes) + 1
    for spec in specs:
        if not isinstance(spec, dict) or not isinstance(spec.get("key"), dict) or not spec["key"]:
            raise CommandError(BAD_VALUE, "Index spec must have a non-empty 'key' object")
        index_name = spec.get("name")
        if not isinstance(index_name, str) or not index_name:
            raise CommandError(BAD_VALUE, "Index spec must have a 'name' string")
        keys = list(spec["key"].items())
        if index_name == "_id_" or keys == [("_id", 1)]:
            continue
        existing = raw.indexes.get(index_name)
        if existing is not None:
            if list(existing["key"]) != keys:
                raise CommandError(INDEX_KEY_SPECS_CONFLICT,
                                   f"An existing index has the same name as the requested index."
                                   f" Requested index: {spec}")
            if bool(existing.get("unique")) != bool(spec.get("unique")):
                raise CommandError(INDEX_OPTIONS_CONFLICT,
                                   f"Index with name: {index_name} already exists with "
                                   f"different options")
            continue
        kwargs = {k: spec[k] for k in _INDEX_STORED_FIELDS if k in spec}
        try:
            collection.create_index(keys, name=index_name, **kwargs)
        except mongomock.DuplicateKeyError:
            raise _unique_violation(ctx, name, keys) from None
        info.index_extra[index_name] = {k: v for k, v in spec.items()
                                        if k not in ("key", "name", "v", *_INDEX_STORED_FIELDS)}
    ctx.store.wrote(ctx.db, name)
    after = len(raw.indexes) + 1
    reply = ok(numIndexesBefore=before, numIndexesAfter=after,
               createdCollectionAutomatically=created_automatically)
    if before == after:
        reply["note"] = "all indexes already exist"
    return reply


def _unique_violation(ctx: Context, name: str, keys: list[tuple[str, Any]]) -> CommandError:
    seen: dict[str, Any] = {}
    for doc in ctx.store.documents(ctx.db, name):
        value = {k: doc.get(k) for k, _ in keys}
        marker = repr(value)
        if marker in seen:
            return ctx.store.duplicate_key_error(ctx.db, name, "_".join(f"{k}_{d}" for k, d in keys),
                                                 dict(keys), value)
        seen[marker] = True
    return ctx.store.duplicate_key_error(ctx.db, name, "index", dict(keys), {})


@command("dropIndexes", "deleteIndexes", kind=WRITE, counter="command")
def drop_indexes(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    if not ctx.store.exists(ctx.db, name):
        raise CommandError(NAMESPACE_NOT_FOUND, f"ns not found {ctx.db}.{name}")
    raw = ctx.store._raw_store(ctx.db, name)
    info = ctx.store.info(ctx.db, name)
    was = len(raw.indexes) + 1
    target = ctx.body.get("index")
    if target == "*":
        names = list(raw.indexes)
    elif isinstance(target, str):
        names = [target]
    elif isinstance(target, list):
        names = list(target)
    elif isinstance(target, dict):
        wanted = list(target.items())
        names = [n for n, spec in raw.indexes.items() if list(spec["key"]) == wanted]
        if not names:
            raise CommandError(INDEX_NOT_FOUND, f"can't find index with key: {target}")
    else:
        raise type_mismatch("dropIndexes.index", "string or object", target)
    for index_name in names:
        if index_name == "_id_":
            raise CommandError(INVALID_OPTIONS, "cannot drop _id index")
        if index_name not in raw.indexes:
            raise CommandError(INDEX_NOT_FOUND, f"index not found with name [{index_name}]")
    for index_name in names:
        raw.drop_index(index_name)
        info.index_extra.pop(index_name, None)
    ctx.store.wrote(ctx.db, name)
    return ok(nIndexesWas=was)
