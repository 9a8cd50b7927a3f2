"""Server-side cursors: the first batch, ``getMore`` and ``killCursors``.

A cursor holds the rest of a result as a list, either of pre-encoded BSON documents (the fast path
for empty-filter finds) or of documents still to encode. Batches stop at the requested
``batchSize`` or at 16 MiB, as a real server's do; the first batch defaults to 101 documents.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

import bson

from sandbox.commands.base import ADMIN, READ, Context, command, ok
from sandbox.errors import BAD_VALUE, CURSOR_NOT_FOUND, UNAUTHORIZED, CommandError, type_mismatch
from sandbox.state import Cursor
from sandbox.wire import encode_cursor_reply

DEFAULT_FIRST_BATCH = 101
# A real server drops cursors idle for 10 minutes (cursorTimeoutMillis); so do we, lazily.
CURSOR_TIMEOUT_S = 600.0


def _reap_idle_cursors(ctx: Context) -> None:
    cutoff = time.time() - CURSOR_TIMEOUT_S
    for cursor_id in [i for i, c in ctx.member.cursors.items() if c.last_used < cutoff]:
        del ctx.member.cursors[cursor_id]


def _new_cursor_id(ctx: Context) -> int:
    if len(ctx.member.cursors) >= 64:
        _reap_idle_cursors(ctx)
    while True:
        cursor_id = random.getrandbits(62) + 1
        if cursor_id not in ctx.member.cursors:
            return cursor_id


def cursor_reply(ctx: Context, namespace: str, items: Sequence[Any], *, encoded: bool,
                 batch_size: int | None = None, single_batch: bool = False,
                 limit: int = 0, start: int = 0) -> bytes:
    """Open a cursor over ``items[start:]`` and return the reply carrying its first batch."""
    start = min(max(start, 0), len(items))
    end = len(items) if limit <= 0 else min(len(items), start + limit)
    cursor = Cursor(0, namespace, items, encoded, position=start, end=end,
                    connection_id=ctx.conn.connection_id)
    first = DEFAULT_FIRST_BATCH if batch_size is None else batch_size
    if single_batch and batch_size is None and limit > 0:
        first = limit
    batch = cursor.take(first)
    cursor_id = 0
    if not cursor.exhausted and not single_batch:
        cursor_id = cursor.cursor_id = _new_cursor_id(ctx)
        ctx.member.cursors[cursor_id] = cursor
    return encode_cursor_reply(cursor_id, namespace, "firstBatch", batch)


def batch_size_of(ctx: Context, key: str = "batchSize") -> int | None:
    value = ctx.body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise type_mismatch(f"{ctx.name}.{key}", "int", value)
    if value < 0:
        raise CommandError(BAD_VALUE, f"BatchSize value must be non-negative, but received: {value}")
    return int(value)


@command("getMore", kind=READ, counter="getmore")
def get_more(ctx: Context) -> bytes:
    cursor_id = ctx.argument
    if isinstance(cursor_id, bool) or not isinstance(cursor_id, int):
        raise type_mismatch("getMore", "long", cursor_id)
    collection = ctx.body.get("collection")
    if not isinstance(collection, str):
        raise type_mismatch("getMore.collection", "string", collection)
    cursor = ctx.member.cursors.get(int(cursor_id))
    if cursor is None:
        raise CommandError(CURSOR_NOT_FOUND, f"cursor id {cursor_id} not found")
    namespace = f"{ctx.db}.{collection}"
    if cursor.namespace != namespace:
        raise CommandError(UNAUTHORIZED, f"Requested getMore on namespace '{namespace}', but "
                                         f"cursor belongs to a different namespace {cursor.namespace}")
    batch = cursor.take(batch_size_of(ctx) or None)  # 0 or absent: no count limit
    if cursor.exhausted:
        ctx.member.cursors.pop(int(cursor_id), None)
        cursor_id = 0
    return encode_cursor_reply(int(cursor_id), namespace, "nextBatch", batch)


@command("killCursors", kind=ADMIN)
def kill_cursors(ctx: Context) -> dict[str, Any]:
    ctx.collection_name()
    ids = ctx.body.get("cursors")
    if not isinstance(ids, list):
        raise type_mismatch("killCursors.cursors", "array", ids)
    killed, not_found = [], []
    for cursor_id in ids:
        if ctx.member.cursors.pop(int(cursor_id), None) is not None:
            killed.append(bson.Int64(cursor_id))
        else:
            not_found.append(bson.Int64(cursor_id))
    return ok(cursorsKilled=killed, cursorsNotFound=not_found, cursorsAlive=[], cursorsUnknown=[])
