"""``hello``/``isMaster`` (plain and awaitable) and the small informational commands.

The awaitable form (SDAM "streaming protocol"): when the client's ``topologyVersion`` equals the
member's current one, the reply waits until the member's state changes or ``maxAwaitTimeMS``
passes, whichever is first; a different ``processId`` or an older counter is answered at once.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import platform
import socket
from typing import Any

from sandbox.commands.base import ADMIN, OPEN, Context, command, ok
from sandbox.commands.users import sasl_start, x509_authenticate
from sandbox.errors import BAD_VALUE, CommandError, type_mismatch
from sandbox.state import ARBITER, MONGOS, PRIMARY, SECONDARY, STANDALONE, Member
from sandbox.store import utc_now
from sandbox.wire import MAX_BSON_SIZE, MAX_MESSAGE_SIZE

WIRE_TO_VERSION = {6: "3.6.23", 7: "4.0.28", 8: "4.2.25", 9: "4.4.29", 13: "5.0.26",
                   17: "6.0.16", 21: "7.0.12", 25: "8.0.3"}


def server_version(max_wire_version: int) -> str:
    best = "3.6.23"
    for wire, version in sorted(WIRE_TO_VERSION.items()):
        if wire <= max_wire_version:
            best = version
    return best


def _optime_fields(ctx: Context, member: Member) -> dict[str, Any]:
    optime = ctx.cluster.optime(member)
    date = datetime.datetime.fromtimestamp(optime.wall, datetime.UTC).replace(tzinfo=None)
    date = date.replace(microsecond=date.microsecond // 1000 * 1000)
    op_time = {"ts": optime.ts, "t": optime.term}
    return {"opTime": op_time, "lastWriteDate": date, "majorityOpTime": op_time,
            "majorityWriteDate": date}


def hello_reply(ctx: Context, legacy: bool) -> dict[str, Any]:
    cluster, member = ctx.cluster, ctx.member
    writable = member.role in (PRIMARY, STANDALONE, MONGOS)
    reply: dict[str, Any] = {}
    if ctx.body.get("helloOk"):
        reply["helloOk"] = True
    reply["ismaster" if legacy else "isWritablePrimary"] = writable
    reply["topologyVersion"] = member.topology_version()
    if member.role == MONGOS:
        reply["msg"] = "isdbgrid"
    elif cluster.is_replset:
        members = cluster.members
        reply["hosts"] = [m.address for m in members
                          if m.role != ARBITER and not m.hidden and m.priority > 0]
        passives = [m.address for m in members if m.role != ARBITER and not m.hidden
                    and m.priority == 0]
        arbiters = [m.address for m in members if m.role == ARBITER]
        if passives:
            reply["passives"] = passives
        if arbiters:
            reply["arbiters"] = arbiters
        reply["setName"] = cluster.set_name
        reply["setVersion"] = cluster.set_version
        reply["secondary"] = member.role == SECONDARY
        if member.role == ARBITER:
            reply["arbiterOnly"] = True
        if member.hidden:
            reply["hidden"] = True
            reply["passive"] = True
        primary = cluster.primary()
        if primary is not None:
            reply["primary"] = primary.address
        reply["me"] = member.address
        if member.role == PRIMARY:
            reply["electionId"] = cluster.election_id()
        if member.role != ARBITER:
            reply["lastWrite"] = _optime_fields(ctx, member)
    reply.update({
        "maxBsonObjectSize": MAX_BSON_SIZE,
        "maxMessageSizeBytes": MAX_MESSAGE_SIZE,
        "maxWriteBatchSize": 100000,
        "localTime": utc_now(),
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": ctx.conn.connection_id,
        "minWireVersion": 0,
        "maxWireVersion": cluster.max_wire_version,
        "readOnly": False,
    })
    if ctx.conn.compressors:
        reply["compression"] = list(ctx.conn.compressors)
    return reply


async def _await_change(ctx: Context) -> None:
    client_version = ctx.body.get("topologyVersion")
    max_await = ctx.body.get("maxAwaitTimeMS")
    if client_version is None or max_await is None:
        return
    if not isinstance(client_version, dict):
        raise type_mismatch("hello.topologyVersion", "object", client_version)
    if isinstance(max_await, bool) or not isinstance(max_await, int | float) or max_await < 0:
        raise CommandError(BAD_VALUE, "maxAwaitTimeMS must be a non-negative integer")
    member = ctx.member
    same_process = client_version.get("processId") == member.process_id
    if not same_process or int(client_version.get("counter", -1)) < member.counter:
        return  # the client's view is stale: answer now
    event = member.changed_event()
    try:
        await asyncio.wait_for(event.wait(), max_await / 1000.0)
    except TimeoutError:
        pass


def _negotiate(ctx: Context) -> None:
    client = ctx.body.get("client")
    if client is not None and ctx.conn.client_metadata is None:
        ctx.conn.client_metadata = client
    wanted = ctx.body.get("compression")
    if isinstance(wanted, list) and not ctx.conn.compressors:
        ctx.conn.compressors = [name for name in wanted if name in ("zlib",)]


async def _hello(ctx: Context, legacy: bool) -> dict[str, Any]:
    _negotiate(ctx)
    await _await_change(ctx)
    reply = hello_reply(ctx, legacy)
    mechs_for = ctx.body.get("saslSupportedMechs")
    if isinstance(mechs_for, str):
        db, _dot, user = mechs_for.partition(".")
        credential = ctx.cluster.users.get((db, user))
        if credential is not None:
            reply["saslSupportedMechs"] = credential.mechanisms
    speculative = ctx.body.get("speculativeAuthenticate")
    if isinstance(speculative, dict):
        db = speculative.get("db", ctx.db)
        try:
            if "saslStart" in speculative:
                reply["speculativeAuthenticate"] = sasl_start(ctx, speculative, db)
            elif "authenticate" in speculative:
                reply["speculativeAuthenticate"] = x509_authenticate(ctx, speculative)
        except CommandError:
            pass  # a failed speculative attempt is simply not answered; the client retries
    return ok(**reply)


@command("hello", kind=OPEN)
async def hello(ctx: Context) -> dict[str, Any]:
    return await _hello(ctx, legacy=False)


@command("isMaster", "ismaster", kind=OPEN)
async def is_master(ctx: Context) -> dict[str, Any]:
    return await _hello(ctx, legacy=True)


@command("ping", kind=OPEN)
def ping(ctx: Context) -> dict[str, Any]:
    return ok()


@command("buildInfo", "buildinfo", kind=OPEN)
def build_info(ctx: Context) -> dict[str, Any]:
    version = server_version(ctx.cluster.max_wire_version)
    parts = [int(p) for p in version.split(".")]
    return ok(version=version, gitVersion="sandbox", modules=[], allocator="system",
              javascriptEngine="none", versionArray=parts + [0], bits=64, debug=False,
              maxBsonObjectSize=MAX_BSON_SIZE, storageEngines=["wiredTiger"],
              openssl={"running": "python ssl"}, sandbox=True)


@command("hostInfo", kind=ADMIN)
def host_info(ctx: Context) -> dict[str, Any]:
    memory_mb = 0
    try:
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        pass
    return ok(system={"currentTime": utc_now(), "hostname": socket.gethostname(),
                      "cpuAddrSize": 64, "memSizeMB": memory_mb, "numCores": os.cpu_count() or 1,
                      "cpuArch": platform.machine(), "numaEnabled": False},
              os={"type": platform.system(), "name": platform.platform(),
                  "version": platform.release()},
              extra={"versionString": platform.version()})


@command("endSessions", "startSession", "refreshSessions", "killSessions", "killAllSessions",
         kind=ADMIN)
def sessions(ctx: Context) -> dict[str, Any]:
    return ok()


@command("whatsmyuri", kind=ADMIN)
def whats_my_uri(ctx: Context) -> dict[str, Any]:
    return ok(you=ctx.conn.peer)


@command("getParameter", kind=ADMIN)
def get_parameter(ctx: Context) -> dict[str, Any]:
    version = server_version(ctx.cluster.max_wire_version)
    known = {"featureCompatibilityVersion": {"version": version.rsplit(".", 1)[0]},
             "authenticationMechanisms": ["SCRAM-SHA-1", "SCRAM-SHA-256", "MONGODB-X509"]}
    if ctx.argument == "*":
        return ok(**known)
    return ok(**{k: v for k, v in known.items() if k in ctx.body})


@command("getCmdLineOpts", kind=ADMIN)
def get_cmd_line_opts(ctx: Context) -> dict[str, Any]:
    return ok(argv=["mongod", "--port", str(ctx.member.port)],
              parsed={"net": {"port": ctx.member.port, "bindIp": ctx.member.host}})


@command("getLog", kind=ADMIN)
def get_log(ctx: Context) -> dict[str, Any]:
    return ok(totalLinesWritten=0, log=[])


@command("listCommands", kind=ADMIN)
def list_commands(ctx: Context) -> dict[str, Any]:
    from sandbox.commands.base import COMMANDS

    return ok(commands={name: {"help": "", "requiresAuth": spec.kind != OPEN}
                        for name, spec in sorted(COMMANDS.items())})
