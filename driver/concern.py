"""Write and read concerns: what acknowledgement a write needs, what a read may see.

Plain immutable values with PyMongo's public names (``WriteConcern(w, wtimeout, j,
fsync)``, ``ReadConcern(level)``), following the read/write concern specification
("read-write-concern.md" in mongodb/specifications). ``document`` is what is sent
to the server; an empty document means "the server's default".
"""

from __future__ import annotations

from typing import Any

from driver.errors import ConfigurationError


class WriteConcern:
    """The acknowledgement a write asks for.

    ``w``: number of members (0 = unacknowledged) or a tag/``"majority"``;
    ``wtimeout``: milliseconds to wait for ``w``; ``j``: wait for the journal;
    ``fsync``: the legacy spelling of ``j`` for MMAPv1 servers.
    """

    __slots__ = ("_document", "_acknowledged", "_server_default")

    def __init__(
        self,
        w: int | str | None = None,
        wtimeout: int | None = None,
        j: bool | None = None,
        fsync: bool | None = None,
    ) -> None:
        document: dict[str, Any] = {}
        if w is not None:
            if isinstance(w, bool) or not isinstance(w, int | str):
                raise TypeError(f"w must be an integer or a string, not {w!r}")
            if isinstance(w, int) and w < 0:
                raise ConfigurationError(f"w must be 0 or more, not {w}")
            if isinstance(w, str) and not w:
                raise ConfigurationError("w may not be an empty string; use 'majority' or a tag")
            document["w"] = w
        if wtimeout is not None:
            if isinstance(wtimeout, bool) or not isinstance(wtimeout, int):
                raise TypeError(f"wtimeout must be an integer (milliseconds), not {wtimeout!r}")
            if wtimeout < 0:
                raise ConfigurationError(f"wtimeout must be 0 or more, not {wtimeout}")
            document["wtimeout"] = wtimeout
        if j is not None:
            if not isinstance(j, bool):
                raise TypeError(f"j must be True or False, not {j!r}")
            document["j"] = j
        if fsync is not None:
            if not isinstance(fsync, bool):
                raise TypeError(f"fsync must be True or False, not {fsync!r}")
            if j is not None:
                raise ConfigurationError("Can't set both j and fsync at the same time")
            document["fsync"] = fsync
        # Read/write concern spec: "w=0 and j=true" is an error ("journal=true with w=0
        # is invalid" since the write is not acknowledged at all).
        if w == 0 and (j is True or fsync is True):
            raise ConfigurationError(
                "write concern w=0 (unacknowledged) cannot wait for the journal; "
                "drop journal/j (or fsync) or use w=1"
            )
        self._document = document
        self._acknowledged = w != 0
        self._server_default = not document

    @property
    def document(self) -> dict[str, Any]:
        """The ``writeConcern`` document sent to the server (a copy)."""
        return dict(self._document)

    @property
    def acknowledged(self) -> bool:
        """False only for ``w=0``: the server sends no reply to the write."""
        return self._acknowledged

    @property
    def is_server_default(self) -> bool:
        """True when nothing was set, so the server applies its own default."""
        return self._server_default

    def validate_for(self, in_transaction: bool) -> None:
        """Refuse an unacknowledged concern inside a transaction."""
        if in_transaction and not self._acknowledged:
            raise ConfigurationError("transactions need an acknowledged write concern (w >= 1)")

    def __repr__(self) -> str:
        inner = ", ".join(f"{key}={value!r}" for key, value in self._document.items())
        return f"WriteConcern({inner})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, WriteConcern):
            return self._document == other._document
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, str(v)) for k, v in self._document.items())))


class ReadConcern:
    """The isolation of reads: ``level`` is ``local``, ``majority``, ``linearizable``,
    ``available``, ``snapshot`` or any future level (sent unchanged, "to allow for
    forwards compatibility with the server")."""

    __slots__ = ("_level",)

    def __init__(self, level: str | None = None) -> None:
        if level is not None and not isinstance(level, str):
            raise TypeError(f"level must be a string or None, not {level!r}")
        self._level = level

    @property
    def level(self) -> str | None:
        """The level, or None for the server's default."""
        return self._level

    @property
    def ok_for_legacy(self) -> bool:
        """True when the level can be used with servers older than 3.2."""
        return self._level is None or self._level == "local"

    @property
    def document(self) -> dict[str, Any]:
        """The ``readConcern`` document (empty for the server's default)."""
        return {"level": self._level} if self._level is not None else {}

    @property
    def is_server_default(self) -> bool:
        """True when no level was chosen."""
        return self._level is None

    def __repr__(self) -> str:
        return f"ReadConcern(level={self._level!r})" if self._level else "ReadConcern()"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ReadConcern):
            return self._level == other._level
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._level)


DEFAULT_WRITE_CONCERN = WriteConcern()
DEFAULT_READ_CONCERN = ReadConcern()

__all__ = ["DEFAULT_READ_CONCERN", "DEFAULT_WRITE_CONCERN", "ReadConcern", "WriteConcern"]
