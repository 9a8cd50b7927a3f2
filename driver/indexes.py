"""Index management methods of ``Collection`` (a mixin, to keep ``collection.py`` small).

``create_index``/``create_indexes`` send ``createIndexes`` with the write concern;
``list_indexes`` returns a ``CommandCursor``; ``index_information`` reshapes it into
PyMongo's ``{name: {"key": [(field, direction)], ...}}``; ``drop_index`` accepts a name
or the same key specification ``create_index`` took.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from driver.common import IndexModel, generate_index_name, index_list
from driver.errors import OperationFailure
from driver.operations.replies import cursor_document, require_str

if TYPE_CHECKING:
    from driver.collection import Collection
    from driver.operations.cursor import CommandCursor
    from driver.session import ClientSession

# Keyword options of create_index that are not index options but command options.
_COMMAND_OPTIONS = {"maxTimeMS": "maxTimeMS", "max_time_ms": "maxTimeMS", "commitQuorum": "commitQuorum"}


class IndexMethods:
    """``create_index``, ``create_indexes``, ``list_indexes``, ``index_information``,
    ``drop_index``, ``drop_indexes``."""

    def _self(self) -> Collection:
        return self  # type: ignore[return-value]

    def create_indexes(
        self, indexes: Sequence[IndexModel], session: ClientSession | None = None,
        comment: Any = None, **kwargs: Any,
    ) -> list[str]:
        """Create several indexes in one command; returns their names."""
        collection = self._self()
        if not isinstance(indexes, list) or not all(isinstance(i, IndexModel) for i in indexes):
            raise TypeError(f"{indexes!r} is not a list of IndexModel instances")
        command: dict[str, Any] = {
            "createIndexes": collection.name,
            "indexes": [model.document for model in indexes],
        }
        for key, value in kwargs.items():
            command[_COMMAND_OPTIONS.get(key, key)] = value
        if comment is not None:
            command["comment"] = comment
        collection._executor.command(
            collection.database.name, command, session=session,
            write_concern=collection.write_concern, codec_options=collection.codec_options,
            kind="write",
        )
        return [str(model.document["name"]) for model in indexes]

    def create_index(
        self, keys: Any, session: ClientSession | None = None, comment: Any = None,
        **kwargs: Any,
    ) -> str:
        """Create one index (``"field"``, ``[("a", 1), ("b", -1)]``...); returns its name."""
        command_options = {k: kwargs.pop(k) for k in list(kwargs) if k in _COMMAND_OPTIONS}
        model = IndexModel(keys, **kwargs)
        return self.create_indexes([model], session=session, comment=comment, **command_options)[0]

    def list_indexes(
        self, session: ClientSession | None = None, comment: Any = None
    ) -> CommandCursor:
        """A cursor over the index documents (``name``, ``key``, ``v``, ...)."""
        from driver.operations.cursor import CommandCursor

        collection = self._self()
        executor = collection._executor
        command: dict[str, Any] = {"listIndexes": collection.name, "cursor": {}}
        if comment is not None:
            command["comment"] = comment
        owned = session is None
        op_session = session or executor.implicit_session()
        try:
            reply = executor.command(
                collection.database.name, command, session=op_session,
                read_preference=collection.read_preference,
                codec_options=collection.codec_options, kind="read", retryable=True,
            )
            cursor_doc = cursor_document(reply.document, "listIndexes reply")
        except OperationFailure as error:
            if owned:
                op_session.end_session()
            if error.code == 26:  # NamespaceNotFound: no collection, no indexes
                return CommandCursor(
                    collection, {"id": 0, "firstBatch": []}, None, session=None
                )
            raise
        except BaseException:
            if owned:
                op_session.end_session()
            raise
        return CommandCursor(
            collection, cursor_doc, reply.address, session=op_session,
            explicit_session=not owned, comment=comment,
        )

    def index_information(
        self, session: ClientSession | None = None, comment: Any = None
    ) -> dict[str, dict[str, Any]]:
        """``{name: {"key": [(field, direction), ...], "unique": True, ...}}``."""
        information: dict[str, dict[str, Any]] = {}
        for index in self.list_indexes(session=session, comment=comment):
            name = require_str(index, "name", "listIndexes entry")
            info = {field: value for field, value in index.items() if field != "name"}
            key = info.get("key", {})
            info["key"] = list(key.items()) if isinstance(key, Mapping) else key
            information[name] = info
        return information

    def drop_index(
        self, index_or_name: Any, session: ClientSession | None = None, comment: Any = None,
        **kwargs: Any,
    ) -> None:
        """Drop one index, by name or by the key specification it was created with."""
        name = index_or_name
        if isinstance(index_or_name, list) or isinstance(index_or_name, Mapping):
            name = generate_index_name(index_list(index_or_name))
        if not isinstance(name, str):
            raise TypeError("index_or_name must be an index name or a list of (key, direction)")
        self._drop_indexes(name, session, comment, kwargs)

    def drop_indexes(
        self, session: ClientSession | None = None, comment: Any = None, **kwargs: Any
    ) -> None:
        """Drop every index except the one on ``_id``."""
        self._drop_indexes("*", session, comment, kwargs)

    def _drop_indexes(
        self, name: str, session: ClientSession | None, comment: Any, kwargs: dict[str, Any]
    ) -> None:
        collection = self._self()
        command: dict[str, Any] = {"dropIndexes": collection.name, "index": name}
        for key, value in kwargs.items():
            command[_COMMAND_OPTIONS.get(key, key)] = value
        if comment is not None:
            command["comment"] = comment
        collection._executor.command(
            collection.database.name, command, session=session,
            write_concern=collection.write_concern, codec_options=collection.codec_options,
            kind="write",
        )


__all__ = ["IndexMethods"]
