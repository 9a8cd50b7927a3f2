"""PLAIN (RFC 4616), which MongoDB uses for LDAP: the password travels in the clear.

One ``saslStart`` whose payload is ``\\0user\\0password`` (no authorization id), sent
to the credential's source (``$external`` unless the user chose another). Only use it
over TLS; the driver does not refuse it without TLS because the server decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from driver.auth.scram import CommandRunner
from driver.errors import OperationFailure


def plain_payload(username: str, password: str) -> bytes:
    """``authzid \\0 authcid \\0 passwd`` with an empty authzid, UTF-8 encoded."""
    return b"\x00" + username.encode("utf-8") + b"\x00" + password.encode("utf-8")


def plain_command(username: str, password: str) -> dict[str, Any]:
    return {
        "saslStart": 1,
        "mechanism": "PLAIN",
        "payload": plain_payload(username, password),
        "autoAuthorize": 1,
    }


def authenticate_plain(
    conn: CommandRunner,
    username: str,
    password: str,
    source: str,
    *,
    fail: Callable[[OperationFailure], OperationFailure] = lambda exc: exc,
) -> None:
    """Run the one-step PLAIN conversation."""
    try:
        reply = conn.command(source, plain_command(username, password))
        if not reply.get("done", True):
            raise OperationFailure("PLAIN: server did not finish the conversation")
    except OperationFailure as exc:
        raise fail(exc) from exc
