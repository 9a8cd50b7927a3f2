"""Administration commands: statistics (serverStatus, dbStats, collStats), operations (currentOp,
killOp), replica-set commands (replSetGetStatus, replSetGetConfig, replSetStepDown,
replSetFreeze), fail points (configureFailPoint) and listShards."""

from __future__ import annotations

import datetime
import os
import resource
import socket
import time
from typing import Any

from bson import Int64

from sandbox.commands.base import ADMIN, READ, Context, command, ok
from sandbox.commands.catalog import database_size
from sandbox.commands.handshake import server_version
from sandbox.errors import BAD_VALUE, NAMESPACE_NOT_FOUND, NOT_WRITABLE_PRIMARY, CommandError
from sandbox.state import ARBITER, MONGOS, PRIMARY, SECONDARY, STATE_CODES, Member
from sandbox.store import utc_now

MAX_CONNECTIONS = 838860


def _memory_mb() -> tuple[int, int]:
    resident = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    virtual = resident
    try:
        with open(f"/proc/{os.getpid()}/statm") as statm:
            pages = statm.read().split()
        page = os.sysconf("SC_PAGE_SIZE")
        virtual = int(pages[0]) * page // (1024 * 1024)
        resident = int(pages[1]) * page // (1024 * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return resident, virtual


@command("serverStatus", kind=ADMIN)
def server_status(ctx: Context) -> dict[str, Any]:
    member, counters = ctx.member, ctx.member.counters
    uptime = time.time() - member.started_at
    resident, virtual = _memory_mb()
    current = len(member.connections)
    reply: dict[str, Any] = {
        "host": f"{socket.gethostname()}:{member.port}",
        "version": server_version(ctx.cluster.max_wire_version),
        "process": "mongos" if member.role == MONGOS else "mongod",
        "pid": Int64(os.getpid()),
        "uptime": float(int(uptime)),
        "uptimeMillis": Int64(int(uptime * 1000)),
        "uptimeEstimate": Int64(int(uptime)),
        "localTime": utc_now(),
        "connections": {"current": current, "available": MAX_CONNECTIONS - current,
                        "totalCreated": counters.connections_created,
                        "active": sum(1 for c in member.connections.values() if c.current_op)},
        "network": {"bytesIn": Int64(counters.bytes_in), "bytesOut": Int64(counters.bytes_out),
                    "numRequests": Int64(counters.requests)},
        "opcounters": {k: Int64(v) for k, v in counters.opcounters.items()},
        "mem": {"bits": 64, "resident": resident, "virtual": virtual, "supported": True},
        "metrics": {"cursor": {"open": {"total": Int64(len(member.cursors))}}},
    }
    if ctx.cluster.is_replset:
        reply["repl"] = {"setName": ctx.cluster.set_name,
                         "isWritablePrimary": member.role == PRIMARY,
                         "secondary": member.role == SECONDARY,
                         "hosts": [m.address for m in ctx.cluster.members],
                         "me": member.address}
    return ok(**reply)


def collection_stats(ctx: Context, name: str) -> dict[str, Any]:
    count = ctx.store.count(ctx.db, name)
    size = ctx.store.data_size(ctx.db, name)
    indexes = ctx.store.collection(ctx.db, name).index_information()
    index_sizes = {index_name: 4096 + 16 * count for index_name in indexes}
    return {"ns": f"{ctx.db}.{name}", "size": size, "count": count,
            "avgObjSize": size // count if count else 0, "storageSize": max(size // 2, 4096),
            "freeStorageSize": 0, "capped": False, "nindexes": len(indexes),
            "totalIndexSize": sum(index_sizes.values()), "indexSizes": index_sizes,
            "totalSize": max(size // 2, 4096) + sum(index_sizes.values()),
            "scaleFactor": 1}


@command("collStats", kind=READ)
def coll_stats(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    if not ctx.store.exists(ctx.db, name):
        raise CommandError(NAMESPACE_NOT_FOUND, f"Collection [{ctx.db}.{name}] not found.")
    stats = collection_stats(ctx, name)
    scale = ctx.get_int("scale", 1) or 1
    if scale < 1:
        raise CommandError(BAD_VALUE, "scale has to be > 0")
    for key in ("size", "storageSize", "totalIndexSize", "totalSize", "avgObjSize"):
        stats[key] //= scale
    stats["indexSizes"] = {k: v // scale for k, v in stats["indexSizes"].items()}
    stats["scaleFactor"] = scale
    return ok(**stats)


@command("dbStats", "dbstats", kind=READ)
def db_stats(ctx: Context) -> dict[str, Any]:
    names = ctx.store.collection_names(ctx.db)
    views = sum(1 for n in names if ctx.store.info(ctx.db, n).kind == "view")
    objects = indexes = 0
    for name in names:
        info = ctx.store.info(ctx.db, name)
        if info.kind == "view":
            continue
        if ctx.store.is_lazy(ctx.db, name):
            objects += info.estimate[0] if info.estimate else 0
            indexes += 1
            continue
        objects += ctx.store.count(ctx.db, name)
        indexes += len(ctx.store.collection(ctx.db, name).index_information())
    size = database_size(ctx, ctx.db)
    return ok(db=ctx.db, collections=len(names) - views, views=views, objects=objects,
              avgObjSize=size / objects if objects else 0, dataSize=float(size),
              storageSize=float(max(size // 2, 4096 if names else 0)), indexes=indexes,
              indexSize=float(4096 * indexes), totalSize=float(max(size // 2, 0) + 4096 * indexes),
              scaleFactor=1, fsUsedSize=0.0, fsTotalSize=0.0)


def current_operations(ctx: Context) -> list[dict[str, Any]]:
    now = time.time()
    ops = []
    for conn in ctx.member.connections.values():
        op = conn.current_op
        if op is None:
            continue
        ops.append({"type": "op", "host": ctx.member.address, "desc": f"conn{conn.connection_id}",
                    "connectionId": conn.connection_id, "client": conn.peer,
                    "clientMetadata": conn.client_metadata or {}, "active": True,
                    "opid": op["opid"], "secs_running": Int64(int(now - op["started"])),
                    "microsecs_running": Int64(int((now - op["started"]) * 1e6)),
                    "op": "command", "ns": op["ns"], "command": op["command"]})
    return ops


@command("currentOp", kind=ADMIN)
def current_op(ctx: Context) -> dict[str, Any]:
    return ok(inprog=current_operations(ctx))


@command("killOp", kind=ADMIN)
def kill_op(ctx: Context) -> dict[str, Any]:
    opid = ctx.body.get("op")
    if isinstance(opid, bool) or not isinstance(opid, int | float):
        raise CommandError(BAD_VALUE, "killOp needs a numeric 'op'")
    for conn in ctx.member.connections.values():
        op = conn.current_op
        if op is not None and op["opid"] == int(opid) and conn.current_task is not None \
                and conn is not ctx.conn:
            op["killed"] = True
            conn.current_task.cancel()
    return ok(info="attempting to kill op")


NO_REPLICATION_ENABLED = 76


def _date(wall: float) -> datetime.datetime:
    date = datetime.datetime.fromtimestamp(wall, datetime.UTC).replace(tzinfo=None)
    return date.replace(microsecond=date.microsecond // 1000 * 1000)


def _require_replset(ctx: Context) -> None:
    if not ctx.cluster.is_replset:
        raise CommandError(NO_REPLICATION_ENABLED, "not running with --replSet")


def _member_status(ctx: Context, member: Member, index: int) -> dict[str, Any]:
    cluster = ctx.cluster
    state = member.role if member.alive else "DOWN"
    status: dict[str, Any] = {"_id": index, "name": member.address,
                              "health": 1.0 if member.alive else 0.0,
                              "state": STATE_CODES.get(state, 8), "stateStr": state,
                              "uptime": int(time.time() - member.started_at) if member.alive else 0}
    if member.role != ARBITER:
        optime = cluster.optime(member)
        status["optime"] = {"ts": optime.ts, "t": optime.term}
        status["optimeDate"] = _date(optime.wall)
        status["lastAppliedWallTime"] = _date(optime.wall)
    if member is not ctx.member:
        status["lastHeartbeat"] = utc_now()
        status["lastHeartbeatRecv"] = utc_now() if member.alive else _date(member.started_at)
        status["pingMs"] = int(member.latency_ms + ctx.member.latency_ms)
    else:
        status["self"] = True
    primary = cluster.primary()
    if member.role == PRIMARY and member.election_date is not None:
        status["electionTime"] = cluster.store.optime_at(member.election_date).ts
        status["electionDate"] = _date(member.election_date)
    elif member.role != ARBITER and primary is not None and member.alive:
        status["syncSourceHost"] = primary.address
        status["syncSourceId"] = cluster.members.index(primary)
    else:
        status["syncSourceHost"] = ""
    if member.hidden:
        status["hidden"] = True
    return status


@command("replSetGetStatus", kind=ADMIN)
def repl_set_get_status(ctx: Context) -> dict[str, Any]:
    _require_replset(ctx)
    cluster = ctx.cluster
    members = [_member_status(ctx, m, i) for i, m in enumerate(cluster.members)]
    me = ctx.member
    optime = cluster.optime(me)
    return ok(set=cluster.set_name, date=utc_now(), myState=STATE_CODES.get(me.role, 8),
              term=cluster.term, heartbeatIntervalMillis=2000,
              majorityVoteCount=len(cluster.members) // 2 + 1,
              optimes={"lastCommittedOpTime": {"ts": optime.ts, "t": optime.term},
                       "appliedOpTime": {"ts": optime.ts, "t": optime.term}},
              members=members)


@command("replSetGetConfig", kind=ADMIN)
def repl_set_get_config(ctx: Context) -> dict[str, Any]:
    _require_replset(ctx)
    cluster = ctx.cluster
    members = []
    for index, member in enumerate(cluster.members):
        members.append({"_id": index, "host": member.address,
                        "arbiterOnly": member.role == ARBITER, "hidden": member.hidden,
                        "priority": 0.0 if member.role == ARBITER else member.priority,
                        "votes": 1, "tags": {}, "secondaryDelaySecs": 0})
    return ok(config={"_id": cluster.set_name, "version": cluster.set_version,
                      "term": cluster.term, "members": members,
                      "settings": {"electionTimeoutMillis": int(cluster.election_delay * 1000),
                                   "heartbeatIntervalMillis": 2000}})


@command("replSetStepDown", kind=ADMIN)
def repl_set_step_down(ctx: Context) -> dict[str, Any]:
    _require_replset(ctx)
    if ctx.member.role != PRIMARY:
        raise CommandError(NOT_WRITABLE_PRIMARY, "not primary so can't step down")
    ctx.cluster.step_down(ctx.member)
    return ok()


@command("replSetFreeze", kind=ADMIN)
def repl_set_freeze(ctx: Context) -> dict[str, Any]:
    _require_replset(ctx)
    return ok()


@command("configureFailPoint", kind=ADMIN)
def configure_fail_point(ctx: Context) -> dict[str, Any]:
    name = ctx.argument
    if name != "failCommand":
        raise CommandError(BAD_VALUE, f"Unknown fail point: {name!r} (the sandbox has failCommand)")
    mode = ctx.body.get("mode")
    data = ctx.get_doc("data")
    if mode == "off":
        ctx.member.fail_points.pop(name, None)
    elif mode == "alwaysOn":
        ctx.member.fail_points[name] = {"data": data, "remaining": None}
    elif isinstance(mode, dict) and isinstance(mode.get("times"), int) and mode["times"] >= 0:
        ctx.member.fail_points[name] = {"data": data, "remaining": mode["times"]}
    elif isinstance(mode, dict) and isinstance(mode.get("skip"), int) and mode["skip"] >= 0:
        # As on a server: let the first n matching commands through, then always on.
        ctx.member.fail_points[name] = {"data": data, "remaining": None, "skip": mode["skip"]}
    else:
        raise CommandError(BAD_VALUE, "mode must be 'off', 'alwaysOn', {times: n} or {skip: n}")
    return ok()


@command("listShards", kind=ADMIN)
def list_shards(ctx: Context) -> dict[str, Any]:
    if ctx.member.role != MONGOS:
        raise CommandError(59, "no such command: 'listShards'")
    return ok(shards=[{"_id": "shard0", "host": "shard0/sandbox-internal:0", "state": 1}])
