"""Queries through mongomock: views, pipelines, ``find`` filtering, ``aggregate`` and ``explain``.

A view is a catalogue entry (``viewOn`` + ``pipeline``); reading it runs its pipeline over the
source collection (which may itself be a view) followed by the reader's own stages. The stages
``$collStats`` and ``$indexStats``, which mongomock lacks, are answered here when they come first;
a final ``$out`` or ``$merge`` is written by :mod:`sandbox.commands.write_stages`.
``explain`` gives a plausible plan: an IXSCAN (under a FETCH) when an index's first field appears
in the filter, else a COLLSCAN, with executionStats counts taken from really running the query.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from mongomock import aggregate as mongomock_aggregate

from sandbox.bson_order import numeric_filter, numeric_pipeline
from sandbox.commands.admin import collection_stats, current_operations
from sandbox.commands.base import READ, Context, command, ok
from sandbox.commands.cursors import batch_size_of, cursor_reply
from sandbox.commands.write_stages import apply_write_stage, split_write_stage, write_target
from sandbox.errors import BAD_VALUE, NOT_WRITABLE_PRIMARY, CommandError, type_mismatch
from sandbox.state import SECONDARY
from sandbox.store import CollectionInfo, utc_now

MAX_VIEW_DEPTH = 20


def view_of(ctx: Context, name: str) -> CollectionInfo | None:
    info: CollectionInfo | None = ctx.store.catalog.get((ctx.db, name))
    if info is not None and info.kind == "view":
        return info
    return None


def run_view_pipeline(ctx: Context, view: CollectionInfo,
                      pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    source = view.options["viewOn"]
    return run_pipeline(ctx, source, list(view.options.get("pipeline", [])) + pipeline)


def _index_specs(ctx: Context, name: str) -> list[tuple[str, dict[str, Any]]]:
    collection = ctx.store.collection(ctx.db, name)
    return [(index_name, info) for index_name, info in collection.index_information().items()]


def _special_first_stage(ctx: Context, name: str, stage: dict[str, Any]) -> list[dict[str, Any]]:
    host = f"{socket.gethostname()}:{ctx.member.port}"
    if "$collStats" in stage:
        spec = stage["$collStats"] or {}
        doc: dict[str, Any] = {"ns": f"{ctx.db}.{name}", "host": host, "localTime": utc_now()}
        if "storageStats" in spec:
            doc["storageStats"] = collection_stats(ctx, name)
        if "count" in spec:
            doc["count"] = ctx.store.count(ctx.db, name) if ctx.store.exists(ctx.db, name) else 0
        if "latencyStats" in spec:
            zero = {"latency": 0, "ops": 0}
            doc["latencyStats"] = {"reads": zero, "writes": zero, "commands": zero,
                                   "transactions": zero}
        return [doc]
    return [{"name": index_name, "key": dict(info["key"]), "host": host,
             "accesses": {"ops": 0, "since": utc_now()},
             "spec": {"v": 2, "key": dict(info["key"]), "name": index_name,
                      **{k: v for k, v in info.items() if k not in ("key", "v")}}}
            for index_name, info in _index_specs(ctx, name)]


def run_pipeline(ctx: Context, name: str, pipeline: list[dict[str, Any]],
                 depth: int = 0) -> list[dict[str, Any]]:
    """Run ``pipeline`` over collection (or view) ``name`` of the context's database."""
    if depth > MAX_VIEW_DEPTH:
        raise CommandError(BAD_VALUE, "View depth too deep or view cycle detected")
    for index, stage in enumerate(pipeline):
        if not isinstance(stage, dict) or len(stage) != 1:
            raise CommandError(40323, f"A pipeline stage specification object must contain "
                                      f"exactly one field (stage {index})")
    view = view_of(ctx, name)
    if view is not None:
        source_pipeline = list(view.options.get("pipeline", []))
        return run_pipeline(ctx, view.options["viewOn"], source_pipeline + pipeline, depth + 1)
    stages = numeric_pipeline(pipeline)
    try:  # every engine failure, the first $match's included, becomes a command error
        if stages and ("$collStats" in stages[0] or "$indexStats" in stages[0]):
            docs = _special_first_stage(ctx, name, stages.pop(0))
        elif not ctx.store.exists(ctx.db, name):
            docs = []
        elif stages and "$match" in stages[0]:
            docs = list(ctx.store.collection(ctx.db, name).find(stages.pop(0)["$match"]))
        else:
            docs = list(ctx.store.collection(ctx.db, name).find())
        if not stages:
            return docs
        database = ctx.store.client[ctx.db]
        process: Callable[..., Any] = mongomock_aggregate.process_pipeline
        return list(process(docs, database, stages, None))
    except Exception as exc:
        raise engine_error(exc) from None


def engine_error(exc: Exception) -> CommandError:
    """A server-shaped error for whatever the query engine raised (never a bare Python one)."""
    if isinstance(exc, CommandError):
        return exc
    if isinstance(exc, NotImplementedError):
        return CommandError(BAD_VALUE, f"not supported by the sandbox: {exc}")
    code = getattr(exc, "code", None)  # mongomock's OperationFailure carries the server's code
    return CommandError(code if isinstance(code, int) and code else BAD_VALUE, str(exc))


def sort_spec(spec: dict[str, Any] | None) -> list[tuple[str, Any]] | None:
    if not spec:
        return None
    return [(key, value) for key, value in spec.items()]


def run_find(collection: Any, flt: dict[str, Any], projection: dict[str, Any] | None,
             sort: dict[str, Any] | None, skip: int = 0, limit: int = 0) -> list[dict[str, Any]]:
    """Run a query in mongomock and return the documents (engine failures: CommandError)."""
    reverse = bool(sort) and sort == {"$natural": -1}
    if sort and "$natural" in sort:
        sort = None
    try:
        cursor = collection.find(numeric_filter(flt), projection or None)
        if sort:
            cursor = cursor.sort(sort_spec(sort))
        docs = list(cursor)
    except Exception as exc:
        raise engine_error(exc) from None
    if reverse:
        docs.reverse()
    if skip:
        docs = docs[skip:]
    if limit:
        docs = docs[:limit]
    return docs


@command("aggregate", kind=READ, counter="command")
def aggregate(ctx: Context) -> bytes | dict[str, Any]:
    target = ctx.argument
    pipeline = ctx.body.get("pipeline")
    if not isinstance(pipeline, list):
        raise type_mismatch("aggregate.pipeline", "array", pipeline)
    if target == 1:
        return _database_aggregate(ctx, pipeline)
    name = ctx.collection_name()
    stages, write_stage = split_write_stage(pipeline)
    if write_stage is not None and ctx.member.role == SECONDARY:
        raise CommandError(NOT_WRITABLE_PRIMARY, "not primary")
    write_concern = ctx.body.get("writeConcern")
    if write_concern is not None and not isinstance(write_concern, dict):
        raise type_mismatch("aggregate.writeConcern", "object", write_concern)
    if ctx.get_bool("explain"):
        return ok(stages=[{"$cursor": _plan(ctx, name, {}, 0)}], serverInfo=_server_info(ctx))
    cursor_opts = ctx.get_doc("cursor")
    if "cursor" not in ctx.body:
        raise CommandError(9, "The 'cursor' option is required, except for aggregate with the "
                              "explain argument")
    batch = cursor_opts.get("batchSize")
    if batch is not None and (not isinstance(batch, int) or batch < 0):
        raise CommandError(BAD_VALUE, "cursor.batchSize must be a non-negative integer")
    if write_stage is not None:
        write_target(ctx, write_stage)  # a bad target fails before anything runs
    docs = run_pipeline(ctx, name, stages)
    if write_stage is not None:
        try:
            apply_write_stage(ctx, write_stage, docs)
        except CommandError:
            raise
        except Exception as exc:  # mongomock's errors (a unique index of the target, ...)
            raise CommandError(getattr(exc, "code", None) or BAD_VALUE, str(exc)) from None
        docs = []  # a write stage's aggregate answers an empty cursor
    return cursor_reply(ctx, f"{ctx.db}.{name}", docs, encoded=False, batch_size=batch)


def _database_aggregate(ctx: Context, pipeline: list[Any]) -> bytes:
    if not pipeline or not isinstance(pipeline[0], dict) or "$currentOp" not in pipeline[0]:
        raise CommandError(BAD_VALUE, "{aggregate: 1} is supported only with $currentOp first")
    docs = current_operations(ctx)
    if len(pipeline) > 1:
        process: Callable[..., Any] = mongomock_aggregate.process_pipeline
        try:
            docs = list(process(docs, ctx.store.client[ctx.db], numeric_pipeline(pipeline[1:]),
                                None))
        except Exception as exc:
            raise engine_error(exc) from None
    return cursor_reply(ctx, f"{ctx.db}.$cmd.aggregate", docs, encoded=False,
                        batch_size=batch_size_of(ctx))


def _server_info(ctx: Context) -> dict[str, Any]:
    return {"host": ctx.member.host, "port": ctx.member.port, "version": "7.0.0",
            "gitVersion": "sandbox"}


def _plan(ctx: Context, name: str, flt: dict[str, Any], limit: int,
          sort: dict[str, Any] | None = None) -> dict[str, Any]:
    namespace = f"{ctx.db}.{name}"
    exists = ctx.store.exists(ctx.db, name) and view_of(ctx, name) is None
    indexes = ctx.store.collection(ctx.db, name).index_information() if exists else {}
    chosen: tuple[str, dict[str, Any]] | None = None
    for index_name, info in indexes.items():
        first_field = info["key"][0][0]
        if first_field in flt:
            chosen = (index_name, info)
            break
    started = time.perf_counter()
    docs = run_find(ctx.store.collection(ctx.db, name), flt, None, sort, 0, limit) if exists else []
    millis = int((time.perf_counter() - started) * 1000)
    total = ctx.store.count(ctx.db, name) if exists else 0
    returned = len(docs)
    if chosen is not None:
        index_name, info = chosen
        ixscan = {"stage": "IXSCAN", "keyPattern": dict(info["key"]), "indexName": index_name,
                  "isUnique": bool(info.get("unique")), "direction": "forward"}
        winning = {"stage": "FETCH", "inputStage": ixscan}
        exec_stages = {"stage": "FETCH", "nReturned": returned, "docsExamined": returned,
                       "inputStage": dict(ixscan, nReturned=returned, keysExamined=returned)}
        keys_examined, docs_examined = returned, returned
    else:
        winning = {"stage": "COLLSCAN", "filter": flt, "direction": "forward"}
        exec_stages = {"stage": "COLLSCAN", "nReturned": returned, "docsExamined": total}
        keys_examined, docs_examined = 0, total
    return {
        "queryPlanner": {"namespace": namespace, "parsedQuery": flt, "winningPlan": winning,
                         "rejectedPlans": [], "indexFilterSet": False},
        "executionStats": {"executionSuccess": True, "nReturned": returned,
                           "executionTimeMillis": millis, "totalKeysExamined": keys_examined,
                           "totalDocsExamined": docs_examined, "executionStages": exec_stages},
    }


@command("explain", kind=READ, counter="command")
def explain(ctx: Context) -> dict[str, Any]:
    inner = ctx.argument
    if not isinstance(inner, dict) or not inner:
        raise type_mismatch("explain", "object", inner)
    verb = next(iter(inner))
    target = inner[verb]
    if not isinstance(target, str):
        raise CommandError(BAD_VALUE, f"explain of {verb!r} needs a collection name")
    if verb == "find":
        plan = _plan(ctx, target, inner.get("filter") or {}, int(inner.get("limit") or 0),
                     inner.get("sort") or None)
    elif verb in ("count", "distinct"):
        plan = _plan(ctx, target, inner.get("query") or {}, 0)
    elif verb == "aggregate":
        stages = inner.get("pipeline") or []
        first = stages[0] if stages and isinstance(stages[0], dict) else {}
        plan = _plan(ctx, target, first.get("$match", {}), 0)
    elif verb in ("update", "delete"):
        ops = inner.get("updates") or inner.get("deletes") or [{}]
        plan = _plan(ctx, target, ops[0].get("q") or {}, 0)
    elif verb in ("findAndModify", "findandmodify"):
        plan = _plan(ctx, target, inner.get("query") or {}, 1)
    else:
        raise CommandError(BAD_VALUE, f"Explain is not supported for command {verb!r}")
    verbosity = ctx.body.get("verbosity", "allPlansExecution")
    if verbosity == "queryPlanner":
        plan.pop("executionStats")
    return ok(explainVersion="1", **plan, command=inner, serverInfo=_server_info(ctx))
