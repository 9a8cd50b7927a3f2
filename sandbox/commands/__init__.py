"""Command dispatch: look a command up, make the checks a real server makes, run it, shape errors.

Checks, in a real server's order: the command exists (``CommandNotFound``), the connection is
authenticated when the cluster has users (``Unauthorized``), the member may serve it (writes only on
a primary: ``NotWritablePrimary`` with the ``RetryableWriteError`` label for retryable writes; reads on
a secondary only with secondaryOk or a non-primary read preference: ``NotPrimaryNoSecondaryOk``; like
a 4.4+ server, these "state change" errors carry the member's ``topologyVersion``),
then ``failCommand`` fail points, then ``maxTimeMS`` (its deadline counts a fail point's block), then
the handler, then ``maxTimeMS`` again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any

import bson

from sandbox.commands import (  # noqa: F401  (importing registers the handlers)
    admin,
    aggregate,
    catalog,
    crud,
    cursors,
    handshake,
    users,
)
from sandbox.commands.base import COMMANDS, OPEN, READ, WRITE, Context
from sandbox.errors import (
    BAD_VALUE,
    COMMAND_NOT_FOUND,
    ILLEGAL_OPERATION,
    INTERRUPTED,
    MAX_TIME_MS_EXPIRED,
    NOT_PRIMARY_NO_SECONDARY_OK,
    NOT_PRIMARY_OR_SECONDARY,
    NOT_WRITABLE_PRIMARY,
    RETRYABLE_WRITE_CODES,
    UNAUTHORIZED,
    CommandError,
    type_mismatch,
)
from sandbox.state import ARBITER, SECONDARY, ClusterState, ConnectionState, Member
from sandbox.wire import Request

log = logging.getLogger(__name__)

CLOSE_CONNECTION = object()  # a fail point asked to drop the connection
LEGACY_COMMANDS = ("hello", "isMaster", "ismaster")
UNSUPPORTED_OP_QUERY = 352
TOPOLOGY_VERSION_WIRE_VERSION = 9  # MongoDB 4.4: state change errors carry topologyVersion
OPERATION_NOT_SUPPORTED_IN_TRANSACTION = 263
_SECRET_FIELDS = ("pwd", "payload", "speculativeAuthenticate")


def _secondary_ok(request: Request, body: dict[str, Any]) -> bool:
    if request.legacy_secondary_ok:
        return True
    pref = body.get("$readPreference")
    return isinstance(pref, dict) and pref.get("mode", "primary") != "primary"


def _application_name(conn: ConnectionState, name: str, body: dict[str, Any]) -> Any:
    """The connection's appName; for the handshake itself, the one it is announcing.

    A server reads the handshake's ``client`` metadata before it evaluates ``failCommand``,
    so ``{failCommands: ["hello"], appName: ...}`` catches the very first hello of a
    connection: that is how the CMAP integration tests block or fail connection setup."""
    metadata = conn.client_metadata
    if metadata is None and name in LEGACY_COMMANDS:
        metadata = body.get("client")
    application = metadata.get("application") if isinstance(metadata, dict) else None
    return application.get("name") if isinstance(application, dict) else None


def _fail_point(member: Member, conn: ConnectionState, name: str,
                body: dict[str, Any]) -> dict[str, Any] | None:
    point = member.fail_points.get("failCommand")
    if point is None:
        return None
    data: dict[str, Any] = point["data"]
    if name not in data.get("failCommands", []):
        return None
    app = data.get("appName")
    if app is not None and _application_name(conn, name, body) != app:
        return None
    if point.get("skip"):
        point["skip"] -= 1
        return None
    if point["remaining"] is not None:
        point["remaining"] -= 1
        if point["remaining"] <= 0:
            member.fail_points.pop("failCommand", None)
    return data


def _check_access(ctx: Context, kind: str) -> None:
    cluster, member, name, body = ctx.cluster, ctx.member, ctx.name, ctx.body
    if cluster.auth_required and kind != OPEN and not ctx.conn.authenticated:
        raise CommandError(UNAUTHORIZED, f"Command {name} requires authentication")
    if "txnNumber" in body and cluster.kind == "standalone":
        raise CommandError(ILLEGAL_OPERATION, "Transaction numbers are only allowed on a replica "
                                              "set member or mongos")
    if body.get("startTransaction") or body.get("autocommit") is False:
        # Better a clear refusal than writes that look transactional and are not.
        raise CommandError(OPERATION_NOT_SUPPORTED_IN_TRANSACTION,
                           "the sandbox does not support multi-document transactions")
    if not cluster.is_replset or kind == OPEN:
        return
    # MongoDB 4.4+ puts its topologyVersion in "not primary" / "node is recovering" replies,
    # so that a client can tell them from older news: without it, a hello reply the member
    # sent just before it stepped down, read by the client after this error, would make the
    # client believe the member primary again (SDAM "What is the purpose of topologyVersion?").
    extra = ({"topologyVersion": member.topology_version()}
             if cluster.max_wire_version >= TOPOLOGY_VERSION_WIRE_VERSION else None)
    if member.role == ARBITER and kind in (READ, WRITE):
        raise CommandError(NOT_PRIMARY_OR_SECONDARY, "node is not in primary or recovering state",
                           extra=extra)
    if kind == WRITE and member.role == SECONDARY:
        labels = ("RetryableWriteError",) if "txnNumber" in body else ()
        raise CommandError(NOT_WRITABLE_PRIMARY, "not primary", labels=labels, extra=extra)
    if kind == READ and member.role == SECONDARY and name != "getMore" \
            and not _secondary_ok(ctx.request, body):
        raise CommandError(NOT_PRIMARY_NO_SECONDARY_OK, "not primary and secondaryOk=false",
                           extra=extra)


def _redacted(body: dict[str, Any]) -> dict[str, Any]:
    return {k: ("<redacted>" if k in _SECRET_FIELDS else v) for k, v in list(body.items())[:12]
            if k not in ("documents", "updates", "deletes")}


def _max_time_ms(ctx: Context) -> float | None:
    """The command's ``maxTimeMS`` (None: no limit). A getMore's maxTimeMS is how long a
    tailable awaitData cursor waits for data, not a limit, so it is not one here."""
    value = ctx.body.get("maxTimeMS")
    if value is None or ctx.name == "getMore":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise type_mismatch(f"{ctx.name}.maxTimeMS", "int", value)
    if value < 0:
        raise CommandError(BAD_VALUE, f"maxTimeMS value must be non-negative, not {value}")
    return float(value) if value > 0 else None  # 0 means "no limit"


def _check_deadline(started: float, max_time: float | None) -> None:
    # The server checks for interruption as an operation runs; the sandbox's handlers run
    # synchronously, so it checks before (after a fail point's block) and after.
    if max_time is not None and (time.monotonic() - started) * 1000 > max_time:
        raise CommandError(MAX_TIME_MS_EXPIRED, "operation exceeded time limit")


async def _run(ctx: Context, kind: str, handler: Any) -> Any:
    started = time.monotonic()
    max_time = _max_time_ms(ctx)
    point = _fail_point(ctx.member, ctx.conn, ctx.name, ctx.body)
    if point is not None:
        if point.get("blockConnection"):
            # Like the server's, the block is not interruptible: maxTimeMS fires after it.
            await asyncio.sleep(float(point.get("blockTimeMS", 0)) / 1000.0)
        if point.get("closeConnection"):
            return CLOSE_CONNECTION
        if "errorCode" in point:
            raise CommandError(int(point["errorCode"]), "Failing command via 'failCommand' "
                               "failpoint", labels=tuple(point.get("errorLabels", ())))
    # A command whose time ran out while blocked never starts (so a write is not applied).
    _check_deadline(started, max_time)
    result = handler(ctx)
    if inspect.isawaitable(result):
        result = await result
    _check_deadline(started, max_time)
    if point is not None and isinstance(result, dict) and "writeConcernError" in point:
        result = dict(result, writeConcernError=point["writeConcernError"])
    return result


async def dispatch(cluster: ClusterState, member: Member, conn: ConnectionState,
                   request: Request) -> Any:
    """Run one command; returns the BSON reply body, or ``CLOSE_CONNECTION``."""
    body = request.body
    name = next(iter(body), "")
    if request.legacy_namespace is not None:
        db = request.legacy_namespace.partition(".")[0]
    else:
        db = body.get("$db", "")
    ctx = Context(cluster, member, conn, db if isinstance(db, str) else "", body, request, name)
    spec = COMMANDS.get(name)
    try:
        if request.legacy_namespace is not None and name not in LEGACY_COMMANDS:
            raise CommandError(UNSUPPORTED_OP_QUERY, f"Unsupported OP_QUERY command: {name}. The "
                               "client driver may require an upgrade.")
        if not ctx.db:
            raise CommandError(40571, "OP_MSG requests require a $db argument")
        if spec is None:
            raise CommandError(COMMAND_NOT_FOUND, f"no such command: '{name}'")
        member.counters.opcounters[spec.counter] += 1
        _check_access(ctx, spec.kind)
        conn.current_op = {"opid": next(cluster.opids), "started": time.time(),
                           "ns": f"{ctx.db}.$cmd", "command": _redacted(body)}
        try:
            result = await _run(ctx, spec.kind, spec.handler)
        except asyncio.CancelledError:
            if conn.current_op is not None and conn.current_op.get("killed"):
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                raise CommandError(INTERRUPTED, "operation was interrupted") from None
            raise
        finally:
            conn.current_op = None
    except CommandError as exc:
        if exc.code in RETRYABLE_WRITE_CODES and "txnNumber" in body \
                and "RetryableWriteError" not in exc.labels and spec is not None \
                and spec.kind == WRITE:
            exc.labels.append("RetryableWriteError")
        return _with_cluster_time(cluster, bson.encode(exc.to_document()))
    except NotImplementedError as exc:  # an engine limit a handler did not translate
        log.debug("command %s hit an engine limit", name, exc_info=True)
        return _with_cluster_time(cluster, bson.encode(CommandError(
            BAD_VALUE, f"not supported by the sandbox: {exc}").to_document()))
    except Exception as exc:  # a bug: answer, never drop the connection
        log.debug("command %s failed", name, exc_info=True)
        code = getattr(exc, "code", None)
        return bson.encode(CommandError(code if isinstance(code, int) else 1,
                                        f"{type(exc).__name__}: {exc}").to_document())
    if result is CLOSE_CONNECTION:
        return result
    try:
        encoded = result if isinstance(result, bytes) else bson.encode(result)
    except Exception as exc:
        return bson.encode(CommandError(1, f"reply could not be encoded: {exc}").to_document())
    return _with_cluster_time(cluster, encoded)


_ZERO_SIGNATURE = {"hash": bson.Binary(b"\x00" * 20), "keyId": bson.Int64(0)}


def _with_cluster_time(cluster: ClusterState, reply: bytes) -> bytes:
    """Replica-set members and routers gossip ``$clusterTime`` and report ``operationTime``."""
    if cluster.kind == "standalone":
        return reply
    ts = cluster.store.history[-1].ts
    tail = bson.encode({"$clusterTime": {"clusterTime": ts, "signature": _ZERO_SIGNATURE},
                        "operationTime": ts})
    body = reply[4:-1] + tail[4:-1]
    return (len(body) + 5).to_bytes(4, "little") + body + b"\x00"
