"""The Stable API: ``ServerApi(version, strict, deprecation_errors)``.

When a client declares a server API version, every command carries ``apiVersion`` and,
if set, ``apiStrict`` / ``apiDeprecationErrors`` (versioned API spec,
"versioned-api.md" in mongodb/specifications). Names follow PyMongo's
``pymongo.server_api``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from driver.errors import ConfigurationError


class ServerApiVersion:
    """The API versions the server knows."""

    V1 = "1"


_KNOWN_VERSIONS = (ServerApiVersion.V1,)


class ServerApi:
    """A declared Stable API version with its two optional flags."""

    __slots__ = ("_version", "_strict", "_deprecation_errors")

    def __init__(
        self,
        version: str,
        strict: bool | None = None,
        deprecation_errors: bool | None = None,
    ) -> None:
        if version not in _KNOWN_VERSIONS:
            raise ConfigurationError(
                f"unknown server API version {version!r}; use one of "
                f"{', '.join(repr(v) for v in _KNOWN_VERSIONS)} (ServerApiVersion.V1)"
            )
        for name, flag in (("strict", strict), ("deprecation_errors", deprecation_errors)):
            if flag is not None and not isinstance(flag, bool):
                raise TypeError(f"ServerApi {name} must be True, False or None, not {flag!r}")
        self._version = version
        self._strict = strict
        self._deprecation_errors = deprecation_errors

    @property
    def version(self) -> str:
        """The declared version, e.g. ``"1"``."""
        return self._version

    @property
    def strict(self) -> bool | None:
        """Refuse commands outside the declared API (None: the server's default)."""
        return self._strict

    @property
    def deprecation_errors(self) -> bool | None:
        """Refuse deprecated commands (None: the server's default)."""
        return self._deprecation_errors

    @property
    def document(self) -> dict[str, Any]:
        """The fields added to each command."""
        fields: dict[str, Any] = {"apiVersion": self._version}
        if self._strict is not None:
            fields["apiStrict"] = self._strict
        if self._deprecation_errors is not None:
            fields["apiDeprecationErrors"] = self._deprecation_errors
        return fields

    def apply_to(self, command: MutableMapping[str, Any]) -> None:
        """Add the API fields to ``command`` in place."""
        command.update(self.document)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ServerApi):
            return self.document == other.document
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._version, self._strict, self._deprecation_errors))

    def __repr__(self) -> str:
        return (
            f"ServerApi(version={self._version!r}, strict={self._strict!r}, "
            f"deprecation_errors={self._deprecation_errors!r})"
        )


__all__ = ["ServerApi", "ServerApiVersion"]
