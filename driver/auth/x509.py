"""MONGODB-X509: the client certificate's subject is the user name.

The conversation (auth spec, "MONGODB-X509") is one ``authenticate`` command on
``$external``; from MongoDB 3.4 the user name is optional ("If the application does
not provide a username you MUST NOT send a username to the server"). The TLS layer
presents the certificate; this module only asks the server to accept it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driver.auth.scram import CommandRunner

EXTERNAL = "$external"


def x509_command(username: str | None) -> dict[str, Any]:
    """The ``authenticate`` command (also the speculative form, with ``db`` added)."""
    command: dict[str, Any] = {"authenticate": 1, "mechanism": "MONGODB-X509"}
    if username:
        command["user"] = username
    return command


def authenticate_x509(
    conn: CommandRunner,
    username: str | None,
    *,
    speculative_reply: Mapping[str, Any] | None = None,
) -> None:
    """Authenticate; a speculative reply from the handshake means it is already done."""
    if speculative_reply is not None:
        # "The speculativeAuthenticate reply has the same fields, except for the ok field,
        # as seen in the conversation sections" (handshake spec): its presence is success.
        return
    conn.command(EXTERNAL, x509_command(username))
