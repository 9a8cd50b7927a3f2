"""Authentication of general-use connections: SCRAM-SHA-1/256, MONGODB-X509, PLAIN.

The connection handshake uses ``Authenticator`` in two steps (auth spec,
"Authentication Handshake" and the handshake spec's "Speculative Authentication"):

1. ``handshake_fields()`` adds ``saslSupportedMechs`` (when no mechanism was chosen)
   and ``speculativeAuthenticate`` to the hello/isMaster;
2. ``authenticate(conn, hello_reply)`` picks the mechanism ("If SCRAM-SHA-256 is
   present in the list of mechanism, then it MUST be used as the default; otherwise,
   SCRAM-SHA-1 MUST be used") and finishes or runs the conversation.

"Authentication (including mechanism negotiation) MUST NOT happen on monitoring-only
sockets": monitors simply pass no credential.

Every authentication failure becomes ``OperationFailure`` (the server's code, 18 for
wrong credentials) whose message names the user, source and mechanism and never the
password.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from driver.auth.plain import authenticate_plain
from driver.auth.scram import (
    CommandRunner,
    ScramClient,
    authenticate_scram,
    sasl_start_command,
)
from driver.auth.x509 import EXTERNAL, authenticate_x509, x509_command
from driver.errors import ConfigurationError, OperationFailure

SUPPORTED_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-1", "MONGODB-X509", "PLAIN")
AUTH_FAILED = 18


class Credential(Protocol):
    """What the connection-string layer's credentials provide (duck-typed)."""

    @property
    def mechanism(self) -> str | None: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...


@dataclass(frozen=True)
class MongoCredential:
    """A credential: ``mechanism`` None (or "DEFAULT") means negotiate with the server."""

    mechanism: str | None
    username: str | None
    password: str | None = field(default=None, repr=False)
    source: str | None = None
    mechanism_properties: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = "<hidden>" if self.password is not None else None
        return (
            f"MongoCredential(mechanism={self.mechanism!r}, username={self.username!r}, "
            f"password={shown}, source={self.source!r})"
        )


def _mechanism_of(credential: Credential) -> str | None:
    mechanism = credential.mechanism
    if mechanism is None or mechanism.upper() == "DEFAULT":
        return None
    upper = mechanism.upper()
    if upper not in SUPPORTED_MECHANISMS:
        # The credential passed the auth spec's rules when it was built; this driver
        # simply has no conversation for it (GSSAPI, MONGODB-AWS, MONGODB-OIDC).
        raise ConfigurationError(
            f"authentication mechanism {mechanism!r} is not supported by this driver; "
            f"use one of {', '.join(SUPPORTED_MECHANISMS)}"
        )
    return upper


def _source_of(credential: Credential, mechanism: str | None) -> str:
    if mechanism == "MONGODB-X509":
        return EXTERNAL
    if credential.source:
        return credential.source
    return EXTERNAL if mechanism == "PLAIN" else "admin"


class Authenticator:
    """Authenticates each new connection of one client with one credential."""

    def __init__(self, credential: Credential) -> None:
        self.credential = credential
        self.configured_mechanism = _mechanism_of(credential)
        self.source = _source_of(credential, self.configured_mechanism)
        username = credential.username
        if self.configured_mechanism != "MONGODB-X509":
            if not username:
                raise ConfigurationError(
                    f"{self.configured_mechanism or 'SCRAM'} authentication needs a username"
                )
            if credential.password is None:
                raise ConfigurationError(
                    f"{self.configured_mechanism or 'SCRAM'} authentication of user "
                    f"{username!r} needs a password"
                )
        elif credential.password is not None:
            raise ConfigurationError("MONGODB-X509 authentication does not take a password")

    # -- step 1: fields of the handshake --------------------------------------------------------

    def handshake_fields(self) -> tuple[dict[str, Any], ScramClient | None]:
        """Fields to add to the handshake, and the SCRAM client it started (if any).

        "If an authentication mechanism is not provided ... drivers MUST use the
        SCRAM-SHA-256 mechanism for speculative authentication and drivers MUST send
        saslSupportedMechs" (handshake spec). The user name is sent as given: "The
        username MUST NOT be modified from the form provided by the user".
        """
        fields: dict[str, Any] = {}
        mechanism = self.configured_mechanism
        if mechanism is None:
            fields["saslSupportedMechs"] = f"{self.source}.{self.credential.username}"
            mechanism = "SCRAM-SHA-256"
        scram: ScramClient | None = None
        if mechanism.startswith("SCRAM-"):
            scram = self._scram_client(mechanism)
            fields["speculativeAuthenticate"] = dict(sasl_start_command(scram), db=self.source)
        elif mechanism == "MONGODB-X509":
            fields["speculativeAuthenticate"] = dict(
                x509_command(self.credential.username), db=EXTERNAL
            )
        return fields, scram

    # -- step 2: the conversation -------------------------------------------------------------

    def negotiated_mechanism(self, hello_reply: Mapping[str, Any]) -> str:
        if self.configured_mechanism is not None:
            return self.configured_mechanism
        offered = hello_reply.get("saslSupportedMechs")
        # "Drivers MUST NOT validate the contents of the saslSupportedMechs attribute".
        if isinstance(offered, list | tuple) and "SCRAM-SHA-256" in offered:
            return "SCRAM-SHA-256"
        return "SCRAM-SHA-1"

    def authenticate(
        self,
        conn: CommandRunner,
        hello_reply: Mapping[str, Any],
        speculative_client: ScramClient | None = None,
    ) -> str:
        """Authenticate ``conn``; returns the mechanism used."""
        mechanism = self.negotiated_mechanism(hello_reply)
        speculative = hello_reply.get("speculativeAuthenticate")
        if not isinstance(speculative, Mapping):
            speculative = None
        username = self.credential.username
        if mechanism.startswith("SCRAM-"):
            assert username is not None and self.credential.password is not None
            if (
                speculative is not None
                and speculative_client is not None
                and speculative_client.mechanism == mechanism
            ):
                client, first_reply = speculative_client, speculative
            else:
                client, first_reply = self._scram_client(mechanism), None
            authenticate_scram(
                conn,
                client,
                self.source,
                first_reply=first_reply,
                fail=lambda exc: self.failure(exc, mechanism),
            )
        elif mechanism == "MONGODB-X509":
            try:
                authenticate_x509(conn, username, speculative_reply=speculative)
            except OperationFailure as exc:
                raise self.failure(exc, mechanism) from exc
        else:  # PLAIN
            assert username is not None and self.credential.password is not None
            authenticate_plain(
                conn,
                username,
                self.credential.password,
                self.source,
                fail=lambda exc: self.failure(exc, mechanism),
            )
        return mechanism

    def failure(self, exc: OperationFailure, mechanism: str) -> OperationFailure:
        """The error to raise: names user, source and mechanism; never the password."""
        reason = exc.details.get("errmsg") if exc.details else None
        if not reason and exc.args:
            reason = exc.args[0]
        who = f"user {self.credential.username!r}" if self.credential.username else "the client"
        message = (
            f"Authentication failed for {who} on database {self.source!r} "
            f"with mechanism {mechanism}: {reason or 'no reason given'}"
        )
        code = exc.code if exc.code is not None else AUTH_FAILED
        details = dict(exc.details) if exc.details else {"ok": 0, "errmsg": message, "code": code}
        return OperationFailure(message, code, details)

    def _scram_client(self, mechanism: str) -> ScramClient:
        assert self.credential.username is not None and self.credential.password is not None
        return ScramClient(mechanism, self.credential.username, self.credential.password)


__all__ = [
    "AUTH_FAILED",
    "Authenticator",
    "Credential",
    "MongoCredential",
    "SUPPORTED_MECHANISMS",
]
