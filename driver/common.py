"""Small shared pieces of the client API: option inheritance, ``ReturnDocument``, name
validation, index keys.

Nothing here does I/O. The name rules are the server's (a database name may not
contain ``/\\. "$`` or NUL; a collection name may not be empty, contain ``$`` (except
the server's own ``$cmd``/``oplog.$main``), ``..`` or NUL, nor start or end with ``.``),
checked early so the user gets ``InvalidName`` naming the bad character instead of a
server error later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from driver.errors import InvalidName

if TYPE_CHECKING:
    from driver.bson.codec_options import CodecOptions
    from driver.concern import ReadConcern, WriteConcern
    from driver.read_preferences import ServerMode

#: Sort and index directions, as PyMongo names them.
ASCENDING = 1
DESCENDING = -1
GEO2D = "2d"
GEOSPHERE = "2dsphere"
HASHED = "hashed"
TEXT = "text"

_DATABASE_FORBIDDEN = ("/", "\\", ".", " ", '"', "$", "\x00")


class NamespaceGuards:
    """Guards shared by ``Database`` and ``Collection`` against common slips.

    Attribute access creates sub-objects (``client.shop.orders``), so a misspelt method
    name gives an object instead of an AttributeError, and ``if db:`` would always be
    true. These methods turn such slips into errors that say what happened.
    """

    __slots__ = ()
    _name: str
    #: The type whose attribute access produced this object, for the call message.
    _parent_kind = "object"

    def __bool__(self) -> bool:
        kind = type(self).__name__
        raise NotImplementedError(
            f"a {kind} has no truth value; test it against None instead "
            f"(`if {kind.lower()} is not None:`)"
        )

    def __iter__(self) -> NamespaceGuards:
        return self

    def __next__(self) -> None:
        raise TypeError(f"'{type(self).__name__}' object is not iterable")

    next = __next__

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        # A collection named "orders.find_all" came from ``coll.find_all``: name the last part.
        attribute = self._name.rsplit(".", 1)[-1]
        raise TypeError(
            f"'{type(self).__name__}' object is not callable: {attribute!r} was read as a "
            f"sub-namespace of a {self._parent_kind}, so a method of that name does not exist "
            f"on {self._parent_kind}"
        )


class InheritedOptions:
    """The four options a ``Database`` or ``Collection`` takes from its parent unless given.

    PyMongo's rule (its ``BaseObject``): a client's codec options, read preference, write
    concern and read concern are its databases' defaults, and a database's are its
    collections'; ``get_database``/``get_collection``/``with_options`` override any of
    them, and the others are inherited.
    """

    _codec_options: CodecOptions
    _read_preference: ServerMode
    _write_concern: WriteConcern
    _read_concern: ReadConcern

    def _inherit_options(self, parent: Any, codec_options: CodecOptions | None,
                         read_preference: ServerMode | None, write_concern: WriteConcern | None,
                         read_concern: ReadConcern | None) -> None:
        self._codec_options = codec_options or parent.codec_options
        self._read_preference = read_preference or parent.read_preference
        self._write_concern = write_concern or parent.write_concern
        self._read_concern = read_concern or parent.read_concern

    @property
    def codec_options(self) -> CodecOptions:
        return self._codec_options

    @property
    def read_preference(self) -> ServerMode:
        return self._read_preference

    @property
    def write_concern(self) -> WriteConcern:
        return self._write_concern

    @property
    def read_concern(self) -> ReadConcern:
        return self._read_concern


class ReturnDocument:
    """Which version of the document ``find_one_and_*`` returns."""

    #: The document as it was before the update (the default).
    BEFORE = False
    #: The document after the update or replacement.
    AFTER = True


def validate_database_name(name: Any) -> str:
    """Return ``name`` when the server would accept it as a database name."""
    if not isinstance(name, str):
        raise TypeError(f"database name must be a str, not {type(name).__name__}")
    if not name:
        raise InvalidName("database name cannot be the empty string")
    for char in _DATABASE_FORBIDDEN:
        if char in name:
            raise InvalidName(f"database names cannot contain the character {char!r}: {name!r}")
    return name


def validate_collection_name(name: Any) -> str:
    """Return ``name`` when the server would accept it as a collection name."""
    if not isinstance(name, str):
        raise TypeError(f"collection name must be a str, not {type(name).__name__}")
    if not name:
        raise InvalidName("collection names cannot be empty")
    if ".." in name:
        raise InvalidName(f"collection names cannot contain '..': {name!r}")
    if "$" in name and not (name.startswith("oplog.$main") or name.startswith("$cmd")):
        raise InvalidName(f"collection names must not contain '$': {name!r}")
    if name[0] == "." or name[-1] == ".":
        raise InvalidName(f"collection names must not start or end with '.': {name!r}")
    if "\x00" in name:
        raise InvalidName(f"collection names must not contain the null character: {name!r}")
    return name


def validate_document(value: Any, what: str) -> None:
    """Raise ``TypeError`` unless ``value`` is a mapping (a BSON document)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a document (dict-like), not {type(value).__name__}")


def validate_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be True or False, not {value!r}")
    return value


def validate_non_negative_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an integer, not {value!r}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, not {value}")
    return value


def validate_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an integer, not {value!r}")
    return value


def validate_optional_timeout_ms(value: Any, what: str) -> int | None:
    if value is None:
        return None
    return validate_non_negative_int(value, what)


def index_list(
    key_or_list: str | Sequence[tuple[str, Any]] | Mapping[str, Any],
    direction: Any = None,
) -> list[tuple[str, Any]]:
    """Normalise the sort/index key forms PyMongo accepts into ``[(key, direction), ...]``.

    Accepted: ``"field"``, ``("field", -1)`` pairs in a list, a mapping (kept in order),
    or ``"field", direction``.
    """
    if direction is not None:
        if not isinstance(key_or_list, str):
            raise TypeError("with a direction, the key must be a field name (str)")
        return [(key_or_list, direction)]
    if isinstance(key_or_list, str):
        return [(key_or_list, ASCENDING)]
    if isinstance(key_or_list, Mapping):
        return list(key_or_list.items())
    if not isinstance(key_or_list, Iterable):
        raise TypeError(
            f"keys must be a field name, a list of (key, direction) pairs or a mapping, "
            f"not {key_or_list!r}"
        )
    result: list[tuple[str, Any]] = []
    for item in key_or_list:
        if isinstance(item, str):
            result.append((item, ASCENDING))
        elif isinstance(item, Sequence) and len(item) == 2 and isinstance(item[0], str):
            result.append((item[0], item[1]))
        else:
            raise TypeError(f"each key must be a field name or a (key, direction) pair, not {item!r}")
    if not result:
        raise ValueError("key_or_list must not be empty")
    return result


def index_document(keys: list[tuple[str, Any]]) -> dict[str, Any]:
    """The key document (``{"a": 1, "b": -1}``) of normalised keys, checking directions."""
    document: dict[str, Any] = {}
    for key, value in keys:
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Mapping)):
            raise TypeError(
                f"direction of {key!r} must be 1, -1 or an index type such as 'text', not {value!r}"
            )
        document[key] = value
    return document


def generate_index_name(keys: list[tuple[str, Any]]) -> str:
    """The server's default index name: ``a_1_b_-1``."""
    return "_".join(f"{key}_{value}" for key, value in keys)


__all__ = [
    "ASCENDING",
    "DESCENDING",
    "GEO2D",
    "GEOSPHERE",
    "HASHED",
    "IndexModel",
    "TEXT",
    "ReturnDocument",
    "encode_document",
    "encode_insert_document",
    "generate_index_name",
    "hint_value",
    "index_document",
    "index_list",
    "projection_document",
    "validate_collection_name",
    "validate_database_name",
    "validate_document",
]


class IndexModel:
    """One index for ``create_indexes``: ``IndexModel([("a", 1)], unique=True, name="a")``."""

    __slots__ = ("_document",)

    def __init__(self, keys: Any, **kwargs: Any) -> None:
        normalised = index_list(keys)
        document: dict[str, Any] = {}
        document["key"] = index_document(normalised)
        name = kwargs.pop("name", None)
        document["name"] = name if name is not None else generate_index_name(normalised)
        document.update(kwargs)
        self._document = document

    @property
    def document(self) -> dict[str, Any]:
        """The index specification sent in ``createIndexes``."""
        return self._document

    def __repr__(self) -> str:
        return f"IndexModel({self._document!r})"


# -- statement pieces shared by collection.py, operations/bulk.py and operations/cursor.py:
# they live here, below all three, so none has to reach into another's private names.


def hint_value(hint: Any) -> Any:
    """A ``hint`` as the server takes it: an index name, or an index key document."""
    if hint is None or isinstance(hint, str):
        return hint
    return index_document(index_list(hint))


def projection_document(projection: Any) -> dict[str, Any] | None:
    """A projection as a document; a list of field names means ``{name: 1, ...}``."""
    if projection is None:
        return None
    if isinstance(projection, Mapping):
        return dict(projection)
    if isinstance(projection, str) or not isinstance(projection, Sequence):
        raise TypeError("projection must be a document or a list of field names")
    if not projection:
        return {"_id": 1}
    return {name: 1 for name in projection}


def encode_document(document: Mapping[str, Any], codec_options: Any) -> bytes:
    """``document`` as BSON with the collection's ``codec_options``."""
    from driver.bson import encode  # driver.bson is heavy: loaded on the first write

    return bytes(encode(document, codec_options=codec_options))


def encode_insert_document(document: Any, codec_options: Any) -> bytes:
    """Encode a document to insert, adding an ``ObjectId`` ``_id`` (in place, as PyMongo
    does) when it has none; ``_id`` goes first, where the server expects it."""
    from driver.bson import ObjectId

    validate_document(document, "document")
    raw = getattr(document, "raw", None)
    if isinstance(raw, bytes) and getattr(type(document), "_raw_bson_document", False):
        return raw
    if "_id" not in document:
        document["_id"] = ObjectId()
    if next(iter(document)) != "_id":
        ordered = {"_id": document["_id"]}
        ordered.update((k, v) for k, v in document.items() if k != "_id")
        return encode_document(ordered, codec_options)
    return encode_document(document, codec_options)
