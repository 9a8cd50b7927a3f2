"""The credentials value a client authenticates with, and the rules that build it.

``build_credentials`` applies the authentication specification's per-mechanism rules
("auth.md", section "Supported Authentication Methods", in mongodb/specifications):
which mechanisms need a user name or a password, which ones forbid a password, the
default ``source`` of each ("the database name if supplied on the connection string
or admin" for SCRAM and the default mechanism, ``$external`` for X.509, GSSAPI, AWS
and OIDC, the URI's database or ``$external`` for PLAIN) and which mechanism
properties each accepts (names case-insensitive; callbacks, providers and
ALLOWED_HOSTS only from client options). MONGODB-AWS takes no user name, password or
session token: "If credentials are provided in the URI or client options, the driver
MUST raise an error". The password never appears in ``repr`` or in an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driver.errors import ConfigurationError

EXTERNAL = "$external"
DEFAULT_MECHANISM = "DEFAULT"

_PROPERTIES: dict[str, frozenset[str]] = {
    "GSSAPI": frozenset(
        {"SERVICE_NAME", "CANONICALIZE_HOST_NAME", "SERVICE_REALM", "SERVICE_HOST"}
    ),
    # "Remove support for explicitly specifying MONGODB-AWS authentication properties"
    # (2025-09-30): AWS_SESSION_TOKEN is gone, a custom credential provider remains.
    "MONGODB-AWS": frozenset({"AWS_CREDENTIAL_PROVIDER"}),
    "MONGODB-OIDC": frozenset(
        {"ENVIRONMENT", "TOKEN_RESOURCE", "OIDC_CALLBACK", "OIDC_HUMAN_CALLBACK", "ALLOWED_HOSTS"}
    ),
}
# Properties that hold code (a URI can only give text, so these come from client options).
_CALLABLE_PROPERTIES = frozenset({"AWS_CREDENTIAL_PROVIDER", "OIDC_CALLBACK", "OIDC_HUMAN_CALLBACK"})
_CANONICALIZE_VALUES = ("true", "false", "none", "forward", "forwardAndReverse")
_OIDC_ENVIRONMENTS = ("test", "azure", "gcp", "k8s")


@dataclass(frozen=True)
class MongoCredential:
    """One identity: ``mechanism`` (``"DEFAULT"`` means negotiate SCRAM with the
    server), ``username``, ``password``, ``source`` (the database that holds the user)
    and ``mechanism_properties``."""

    mechanism: str
    username: str | None
    password: str | None = field(default=None, repr=False)
    source: str = "admin"
    mechanism_properties: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = "'****'" if self.password is not None else "None"
        return (
            f"MongoCredential(mechanism={self.mechanism!r}, username={self.username!r}, "
            f"password={shown}, source={self.source!r}, "
            f"mechanism_properties={dict(self.mechanism_properties)!r})"
        )


def _default_source(mechanism: str, database: str | None, source: str | None) -> str:
    if mechanism in ("GSSAPI", "MONGODB-X509", "MONGODB-AWS", "MONGODB-OIDC"):
        # "source MUST be $external and defaults to $external" for these mechanisms.
        if source is not None and source != EXTERNAL:
            raise ConfigurationError(
                f"authSource for {mechanism} must be $external (the users live outside "
                f"MongoDB), not {source!r}; drop authSource or set authSource=$external"
            )
        return EXTERNAL
    if source is not None:
        return source
    if mechanism == "PLAIN":
        return database or EXTERNAL
    return database or "admin"


def _upper_names(properties: Mapping[str, Any]) -> dict[str, Any]:
    """"Naming of mechanism properties MUST be case-insensitive": SERVICE_NAME and
    service_name are one property, kept under its upper-case name."""
    result: dict[str, Any] = {}
    for key, value in properties.items():
        name = key.upper() if isinstance(key, str) else key
        if name in result:
            raise ConfigurationError(
                f"authMechanismProperties gives {name} more than once (names are "
                "case-insensitive); keep one"
            )
        result[name] = value
    return result


def _check_properties(mechanism: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    result = _upper_names(properties)
    allowed = _PROPERTIES.get(mechanism)
    if allowed is None:
        if result:
            raise ConfigurationError(
                f"authMechanismProperties ({', '.join(result)}) have no meaning for "
                f"{mechanism}; remove them or choose GSSAPI, MONGODB-AWS or MONGODB-OIDC"
            )
        return result
    unknown = sorted(set(result) - allowed)
    if unknown:
        raise ConfigurationError(
            f"unknown authMechanismProperties {', '.join(unknown)} for {mechanism}; "
            f"it accepts {', '.join(sorted(allowed))}"
        )
    for name in sorted(_CALLABLE_PROPERTIES & set(result)):
        if not callable(result[name]):
            raise ConfigurationError(
                f"{name} must be a function or object given in "
                "MongoClient(authMechanismProperties={...}), not text (a connection "
                "string cannot carry it)"
            )
    if mechanism == "GSSAPI":
        result.setdefault("SERVICE_NAME", "mongodb")
        canonicalize = result.get("CANONICALIZE_HOST_NAME")
        if isinstance(canonicalize, bool):
            canonicalize = "true" if canonicalize else "false"
            result["CANONICALIZE_HOST_NAME"] = canonicalize
        if canonicalize is not None and canonicalize not in _CANONICALIZE_VALUES:
            raise ConfigurationError(
                f"CANONICALIZE_HOST_NAME must be one of {', '.join(_CANONICALIZE_VALUES)}, "
                f"not {canonicalize!r}"
            )
    return result


def _check_allowed_hosts(hosts: Any) -> None:
    # "This value MUST NOT be allowed in the URI connection string": a URI gives text,
    # client options give the list.
    if isinstance(hosts, str) or not isinstance(hosts, list | tuple) or not all(
        isinstance(host, str) for host in hosts
    ):
        raise ConfigurationError(
            "ALLOWED_HOSTS must be a list of host names given in "
            "MongoClient(authMechanismProperties={'ALLOWED_HOSTS': [...]}); it is not "
            "allowed in the connection string"
        )


def _check_oidc(username: str | None, properties: Mapping[str, Any]) -> None:
    if "ALLOWED_HOSTS" in properties:
        _check_allowed_hosts(properties["ALLOWED_HOSTS"])
    callbacks = [name for name in ("OIDC_CALLBACK", "OIDC_HUMAN_CALLBACK") if name in properties]
    if len(callbacks) == 2:
        raise ConfigurationError("give either OIDC_CALLBACK or OIDC_HUMAN_CALLBACK, not both")
    environment = properties.get("ENVIRONMENT")
    if environment is None:
        if "TOKEN_RESOURCE" in properties:
            raise ConfigurationError(
                "TOKEN_RESOURCE needs ENVIRONMENT:azure or ENVIRONMENT:gcp in "
                "authMechanismProperties"
            )
        # Neither ENVIRONMENT nor a callback is refused by ``check_complete`` when the
        # client is created: a connection string alone cannot carry the callback.
        return
    if callbacks:
        raise ConfigurationError(
            f"give either ENVIRONMENT or {callbacks[0]} for MONGODB-OIDC, not both"
        )
    if environment not in _OIDC_ENVIRONMENTS:
        raise ConfigurationError(
            f"MONGODB-OIDC ENVIRONMENT must be one of {', '.join(_OIDC_ENVIRONMENTS)}, "
            f"not {environment!r}"
        )
    if environment in ("azure", "gcp") and not properties.get("TOKEN_RESOURCE"):
        raise ConfigurationError(
            f"MONGODB-OIDC with ENVIRONMENT:{environment} needs TOKEN_RESOURCE in "
            "authMechanismProperties"
        )
    if environment not in ("azure", "gcp") and "TOKEN_RESOURCE" in properties:
        raise ConfigurationError(
            f"TOKEN_RESOURCE is only used with ENVIRONMENT azure or gcp, not {environment}"
        )
    if environment in ("test", "gcp", "k8s") and username:
        raise ConfigurationError(
            f"MONGODB-OIDC with ENVIRONMENT:{environment} takes no user name; remove it"
        )


def check_complete(credential: MongoCredential | None) -> None:
    """The rules that need every client option, applied when a client is created.

    A MONGODB-OIDC credential needs ENVIRONMENT or a callback ("should throw an
    exception if neither environment nor callbacks specified"); the callback comes from
    ``MongoClient(authMechanismProperties=...)``, so ``parse_uri`` alone cannot tell
    (and the connection-string suite accepts such a URI).
    """
    if credential is None or credential.mechanism != "MONGODB-OIDC":
        return
    properties = credential.mechanism_properties
    if not any(name in properties for name in ("ENVIRONMENT", "OIDC_CALLBACK",
                                               "OIDC_HUMAN_CALLBACK")):
        raise ConfigurationError(
            "MONGODB-OIDC needs ENVIRONMENT (test, azure, gcp or k8s) in "
            "authMechanismProperties, or an OIDC_CALLBACK / OIDC_HUMAN_CALLBACK in "
            "MongoClient(authMechanismProperties={...})"
        )


def build_credentials(
    mechanism: str | None,
    username: str | None,
    password: str | None,
    source: str | None,
    database: str | None,
    properties: Mapping[str, Any] | None = None,
) -> MongoCredential | None:
    """The credential for these inputs, None when there is nothing to authenticate
    with, or ``ConfigurationError`` naming what is missing or not allowed."""
    properties = properties or {}
    if mechanism is None or mechanism == DEFAULT_MECHANISM:
        if username is None:
            return None  # authSource or properties alone do not make a credential.
        mechanism = DEFAULT_MECHANISM
    mechanism = mechanism.upper()
    needs_user = mechanism in ("DEFAULT", "SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN", "GSSAPI")
    if needs_user and not username:
        raise ConfigurationError(
            f"authMechanism={mechanism} needs a user name: put it before '@', "
            f"e.g. mongodb://user:<password>@host/"
        )
    if username == "":
        raise ConfigurationError("the user name is empty; put it before ':' in user:password@")
    if mechanism in ("SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN") and password is None:
        raise ConfigurationError(
            f"authMechanism={mechanism} needs a password: write user:<password>@host "
            "(percent-encode '@' as %40 and ':' as %3A in it)"
        )
    if mechanism in ("MONGODB-X509", "MONGODB-OIDC") and password is not None:
        raise ConfigurationError(
            f"authMechanism={mechanism} does not use a password; remove ':<password>' "
            "from the user information"
        )
    if mechanism == "MONGODB-AWS" and (username is not None or password is not None):
        # "If credentials are provided in the URI or client options, the driver MUST
        # raise an error" (auth spec, MONGODB-AWS "Obtaining Credentials").
        raise ConfigurationError(
            "MONGODB-AWS takes no user name or password: the access key id and secret key "
            "come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or the "
            "AWS SDK; remove the user information before '@'"
        )
    properties = _upper_names(properties)
    if mechanism == "MONGODB-AWS" and "AWS_SESSION_TOKEN" in properties:
        raise ConfigurationError(
            "AWS_SESSION_TOKEN can no longer be given in authMechanismProperties; set the "
            "AWS_SESSION_TOKEN environment variable instead"
        )
    checked = _check_properties(mechanism, properties)
    if mechanism == "MONGODB-OIDC":
        _check_oidc(username, checked)
    return MongoCredential(
        mechanism=mechanism,
        username=username,
        password=password,
        source=_default_source(mechanism, database, source),
        mechanism_properties=checked,
    )


__all__ = [
    "DEFAULT_MECHANISM",
    "EXTERNAL",
    "MongoCredential",
    "build_credentials",
    "check_complete",
]
