"""Authentication and user commands: saslStart/saslContinue (SCRAM), authenticate (X.509),
logout, createUser, dropUser, usersInfo, connectionStatus."""

from __future__ import annotations

from typing import Any

from bson import Binary

from sandbox.auth import (
    MECHANISMS,
    ScramConversation,
    UserCredential,
    make_user,
    plain_authenticate,
)
from sandbox.commands.base import ADMIN, OPEN, WRITE, Context, command, ok
from sandbox.errors import (
    AUTHENTICATION_FAILED,
    BAD_VALUE,
    USER_NOT_FOUND,
    CommandError,
    type_mismatch,
)

DUPLICATE_USER = 51003
X509 = "MONGODB-X509"


def sasl_start(ctx: Context, body: dict[str, Any], db: str) -> dict[str, Any]:
    mechanism = body.get("mechanism")
    if not isinstance(mechanism, str):
        raise type_mismatch("saslStart.mechanism", "string", mechanism)
    payload = body.get("payload", b"")
    if mechanism == "PLAIN":
        user = plain_authenticate(bytes(payload), db, ctx.cluster.users)
        ctx.conn.authenticated.add((user.db, user.user))
        return {"conversationId": 1, "done": True, "payload": Binary(b"")}
    options = body.get("options") or {}
    conversation = ScramConversation(mechanism, db, ctx.cluster.users,
                                     bool(options.get("skipEmptyExchange")))
    ctx.conn.sasl = None
    reply_payload = conversation.start(bytes(payload))
    ctx.conn.sasl = conversation
    return {"conversationId": 1, "done": False, "payload": Binary(reply_payload)}


@command("saslStart", kind=OPEN)
def sasl_start_command(ctx: Context) -> dict[str, Any]:
    return ok(**sasl_start(ctx, ctx.body, ctx.db))


@command("saslContinue", kind=OPEN)
def sasl_continue(ctx: Context) -> dict[str, Any]:
    conversation = ctx.conn.sasl
    if not isinstance(conversation, ScramConversation):
        raise CommandError(AUTHENTICATION_FAILED, "No SASL session state found")
    if ctx.body.get("conversationId", 1) != 1:
        raise CommandError(BAD_VALUE, "conversationId does not match the SASL session")
    try:
        payload = conversation.next(bytes(ctx.body.get("payload", b"")))
    except CommandError:
        ctx.conn.sasl = None
        raise
    if conversation.done and conversation.user is not None:
        ctx.conn.authenticated.add((conversation.user.db, conversation.user.user))
        ctx.conn.sasl = None
    return ok(conversationId=1, done=conversation.done, payload=Binary(payload))


def x509_authenticate(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("mechanism") != X509:
        raise CommandError(BAD_VALUE, f"Unsupported mechanism {body.get('mechanism')!r}")
    subject = ctx.conn.peer_certificate_subject
    if subject is None:
        raise CommandError(AUTHENTICATION_FAILED, "No verified subject name available from client")
    wanted = body.get("user")
    if wanted is not None and wanted != subject:
        raise CommandError(AUTHENTICATION_FAILED,
                           "There is no x.509 client certificate matching the user.")
    if ("$external", subject) not in ctx.cluster.users:
        raise CommandError(USER_NOT_FOUND, f"Could not find user \"{subject}\" for db \"$external\"")
    ctx.conn.authenticated.add(("$external", subject))
    return {"dbname": "$external", "user": subject}


@command("authenticate", kind=OPEN)
def authenticate(ctx: Context) -> dict[str, Any]:
    return ok(**x509_authenticate(ctx, ctx.body))


@command("logout", kind=OPEN)
def logout(ctx: Context) -> dict[str, Any]:
    ctx.conn.authenticated = {(db, u) for db, u in ctx.conn.authenticated if db != ctx.db}
    return ok()


def add_user(cluster: Any, user: str, db: str, password: str | None,
             roles: list[Any] | None = None) -> UserCredential:
    role_docs = [r if isinstance(r, dict) else {"role": r, "db": db}
                 for r in (roles if roles is not None else [{"role": "root", "db": "admin"}])]
    if db == "$external" or password is None:
        credential = UserCredential(user, db, role_docs, x509=True)
    else:
        credential = make_user(user, db, password, role_docs)
    cluster.users[(db, user)] = credential
    return credential


@command("createUser", kind=WRITE)
def create_user(ctx: Context) -> dict[str, Any]:
    name = ctx.argument
    if not isinstance(name, str) or not name:
        raise type_mismatch("createUser", "string", name)
    if (ctx.db, name) in ctx.cluster.users:
        raise CommandError(DUPLICATE_USER, f"User \"{name}@{ctx.db}\" already exists")
    password = ctx.body.get("pwd")
    if ctx.db != "$external" and not isinstance(password, str):
        raise CommandError(BAD_VALUE, "Must provide a 'pwd' field for all user documents, "
                                      "except those with '$external' as the user's source db")
    roles = ctx.body.get("roles", [])
    if not isinstance(roles, list):
        raise type_mismatch("createUser.roles", "array", roles)
    mechanisms = ctx.body.get("mechanisms") or list(MECHANISMS)
    credential = add_user(ctx.cluster, name, ctx.db, password, roles)
    for mechanism in list(credential.keys):
        if mechanism not in mechanisms:
            del credential.keys[mechanism]
    return ok()


@command("dropUser", kind=WRITE)
def drop_user(ctx: Context) -> dict[str, Any]:
    if ctx.cluster.users.pop((ctx.db, ctx.argument), None) is None:
        raise CommandError(USER_NOT_FOUND, f"User '{ctx.argument}@{ctx.db}' not found")
    return ok()


@command("usersInfo", kind=ADMIN)
def users_info(ctx: Context) -> dict[str, Any]:
    wanted = ctx.argument
    users = ctx.cluster.users.values()
    if wanted == 1:
        found = [u for u in users if u.db == ctx.db]
    elif isinstance(wanted, dict) and wanted.get("forAllDBs"):
        found = list(users)
    else:
        names = wanted if isinstance(wanted, list) else [wanted]
        found = []
        for item in names:
            user, db = (item.get("user"), item.get("db")) if isinstance(item, dict) else (item,
                                                                                        ctx.db)
            credential = ctx.cluster.users.get((str(db), str(user)))
            if credential is not None:
                found.append(credential)
    return ok(users=[u.info() for u in found])


@command("connectionStatus", kind=ADMIN)
def connection_status(ctx: Context) -> dict[str, Any]:
    users = [{"user": user, "db": db} for db, user in sorted(ctx.conn.authenticated)]
    roles: list[dict[str, Any]] = []
    for db, user in sorted(ctx.conn.authenticated):
        credential = ctx.cluster.users.get((db, user))
        if credential is not None:
            roles.extend(credential.roles)
    return ok(authInfo={"authenticatedUsers": users, "authenticatedUserRoles": roles})
