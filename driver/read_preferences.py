"""Read preferences: which members of a deployment a read may go to.

The five modes, their names and their document form follow the server-selection
specification ("Read preference" section) and PyMongo's public names
(``ReadPreference.PRIMARY``, ``Nearest(tag_sets, max_staleness)``...). These are
plain immutable values; choosing servers with them is ``driver.sdam.selection``'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from driver.errors import ConfigurationError

# Numeric modes, in the order of PyMongo's ``_MONGOS_MODES``.
PRIMARY_MODE = 0
PRIMARY_PREFERRED_MODE = 1
SECONDARY_MODE = 2
SECONDARY_PREFERRED_MODE = 3
NEAREST_MODE = 4

_MODE_NAMES = ("primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest")
# The snake-case names PyMongo's ``name`` property reports.
_SNAKE_NAMES = ("PRIMARY", "PRIMARY_PREFERRED", "SECONDARY", "SECONDARY_PREFERRED", "NEAREST")

# "The maxStalenessSeconds MUST be at least 90 seconds" (server selection spec,
# 'maxStalenessSeconds'): smaller positive values are refused by the selector.
SMALLEST_MAX_STALENESS_SECONDS = 90


def _validate_tag_sets(tag_sets: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    if tag_sets is None:
        return [{}]
    if isinstance(tag_sets, Mapping) or not isinstance(tag_sets, Sequence):
        raise TypeError(f"tag_sets {tag_sets!r} must be a list of documents, e.g. [{{'dc': 'ny'}}]")
    if len(tag_sets) == 0:
        raise ValueError("tag_sets may not be empty; use [{}] to match any member")
    result: list[dict[str, Any]] = []
    for tags in tag_sets:
        if not isinstance(tags, Mapping):
            raise TypeError(f"tag set {tags!r} must be a document, e.g. {{'dc': 'ny'}}")
        result.append(dict(tags))
    return result


def _validate_max_staleness(max_staleness: Any) -> int:
    if isinstance(max_staleness, bool) or not isinstance(max_staleness, int):
        raise TypeError(f"max_staleness must be an integer, not {max_staleness!r}")
    if max_staleness < -1 or max_staleness == 0:
        raise ValueError(
            f"max_staleness must be -1 (no maximum) or a positive number of seconds, "
            f"not {max_staleness}"
        )
    return max_staleness


class _ServerMode:
    """Common behaviour of the five read preference classes."""

    __slots__ = ("_mode", "_tag_sets", "_max_staleness", "_hedge")

    def __init__(
        self,
        mode: int,
        tag_sets: Sequence[Mapping[str, Any]] | None = None,
        max_staleness: int = -1,
        hedge: Mapping[str, Any] | None = None,
    ) -> None:
        self._mode = mode
        if mode == PRIMARY_MODE and tag_sets not in (None, [{}]):
            raise ConfigurationError("Read preference primary cannot be combined with tags")
        if mode == PRIMARY_MODE and max_staleness != -1:
            raise ConfigurationError(
                "Read preference primary cannot be combined with maxStalenessSeconds"
            )
        self._tag_sets = _validate_tag_sets(tag_sets)
        self._max_staleness = _validate_max_staleness(max_staleness)
        if hedge is not None and not isinstance(hedge, Mapping):
            raise TypeError(f"hedge must be a document, not {hedge!r}")
        self._hedge = dict(hedge) if hedge is not None else None

    @property
    def mode(self) -> int:
        """The numeric mode (0 primary ... 4 nearest)."""
        return self._mode

    @property
    def name(self) -> str:
        """The constant's name, e.g. ``SECONDARY_PREFERRED``."""
        return _SNAKE_NAMES[self._mode]

    @property
    def mongos_mode(self) -> str:
        """The mode as the server spells it, e.g. ``secondaryPreferred``."""
        return _MODE_NAMES[self._mode]

    @property
    def tag_sets(self) -> list[dict[str, Any]]:
        """The tag sets in order of preference; ``[{}]`` matches any member."""
        return [dict(t) for t in self._tag_sets]

    @property
    def max_staleness(self) -> int:
        """Seconds a secondary may lag before it is not eligible; -1 for no limit."""
        return self._max_staleness

    @property
    def hedge(self) -> dict[str, Any] | None:
        """The hedged-read options (accepted and sent to mongos; deprecated by the server)."""
        return dict(self._hedge) if self._hedge is not None else None

    @property
    def min_wire_version(self) -> int:
        """maxStalenessSeconds needs MongoDB 3.4 (wire version 5)."""
        return 5 if self._max_staleness != -1 else 0

    @property
    def document(self) -> dict[str, Any]:
        """The ``$readPreference`` document sent to the server."""
        doc: dict[str, Any] = {"mode": self.mongos_mode}
        if self._tag_sets != [{}]:
            doc["tags"] = self.tag_sets
        if self._max_staleness != -1:
            doc["maxStalenessSeconds"] = self._max_staleness
        if self._hedge is not None:
            doc["hedge"] = self.hedge
        return doc

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(tag_sets={self._tag_sets!r}, "
            f"max_staleness={self._max_staleness!r}, hedge={self._hedge!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _ServerMode):
            return NotImplemented
        return (self._mode, self._tag_sets, self._max_staleness, self._hedge) == (
            other._mode,
            other._tag_sets,
            other._max_staleness,
            other._hedge,
        )

    def __hash__(self) -> int:
        return hash((self._mode, repr(self._tag_sets), self._max_staleness, repr(self._hedge)))


class Primary(_ServerMode):
    """Read from the primary only (the default)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(PRIMARY_MODE)

    def __repr__(self) -> str:
        return "Primary()"


class _TaggableMode(_ServerMode):
    """A mode other than primary: takes tag sets, maxStalenessSeconds and hedge."""

    __slots__ = ()
    _MODE: int

    def __init__(
        self,
        tag_sets: Sequence[Mapping[str, Any]] | None = None,
        max_staleness: int = -1,
        hedge: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(self._MODE, tag_sets, max_staleness, hedge)


class PrimaryPreferred(_TaggableMode):
    """Read from the primary, or a secondary when there is none."""

    __slots__ = ()
    _MODE = PRIMARY_PREFERRED_MODE


class Secondary(_TaggableMode):
    """Read from secondaries only."""

    __slots__ = ()
    _MODE = SECONDARY_MODE


class SecondaryPreferred(_TaggableMode):
    """Read from a secondary, or the primary when there is none."""

    __slots__ = ()
    _MODE = SECONDARY_PREFERRED_MODE


class Nearest(_TaggableMode):
    """Read from any member within the latency window."""

    __slots__ = ()
    _MODE = NEAREST_MODE


# The four modes that take tag sets, indexed by mode number (primary is handled apart).
_TAGGABLE: dict[int, type[_TaggableMode]] = {
    PRIMARY_PREFERRED_MODE: PrimaryPreferred,
    SECONDARY_MODE: Secondary,
    SECONDARY_PREFERRED_MODE: SecondaryPreferred,
    NEAREST_MODE: Nearest,
}


def make_read_preference(
    mode: int | str,
    tag_sets: Sequence[Mapping[str, Any]] | None = None,
    max_staleness: int = -1,
    hedge: Mapping[str, Any] | None = None,
) -> _ServerMode:
    """Build a read preference from a mode number or name (``"secondaryPreferred"``,
    case-insensitive, as in a URI's ``readPreference``)."""
    if isinstance(mode, str):
        lowered = mode.lower()
        for index, candidate in enumerate(_MODE_NAMES):
            if candidate.lower() == lowered or _SNAKE_NAMES[index].lower() == lowered:
                mode = index
                break
        else:
            raise ConfigurationError(
                f"Unknown readPreference {mode!r}; use one of {', '.join(_MODE_NAMES)}"
            )
    if mode != PRIMARY_MODE and mode not in _TAGGABLE:
        raise ConfigurationError(f"Unknown read preference mode {mode!r}")
    if mode == PRIMARY_MODE:
        if tag_sets not in (None, [{}]):
            raise ConfigurationError("Read preference primary cannot be combined with tags")
        if max_staleness != -1:
            raise ConfigurationError(
                "Read preference primary cannot be combined with maxStalenessSeconds"
            )
        return Primary()
    return _TAGGABLE[mode](tag_sets, max_staleness, hedge)


def read_pref_mode_from_name(name: str) -> int:
    """The numeric mode of a server-spelled name (``"nearest"`` → 4)."""
    return make_read_preference(name).mode


class ReadPreference:
    """The shared instances PyMongo users know: ``ReadPreference.SECONDARY``..."""

    PRIMARY = Primary()
    PRIMARY_PREFERRED = PrimaryPreferred()
    SECONDARY = Secondary()
    SECONDARY_PREFERRED = SecondaryPreferred()
    NEAREST = Nearest()


#: The base type, for annotations (``_ServerMode`` in PyMongo's own code).
ServerMode = _ServerMode

__all__ = [
    "Nearest",
    "Primary",
    "PrimaryPreferred",
    "ReadPreference",
    "Secondary",
    "SecondaryPreferred",
    "ServerMode",
    "SMALLEST_MAX_STALENESS_SECONDS",
    "make_read_preference",
    "read_pref_mode_from_name",
]
