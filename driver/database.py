"""``Database``: commands, collection listing/creation/removal, database aggregation.

``client["db"]`` or ``client.db``. Collections come from ``db["name"]``/``db.name``/
``get_collection``; attribute names that start with an underscore are refused (they are
almost always typos of Python attributes) with a hint to use ``db["_name"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from driver.common import InheritedOptions, NamespaceGuards, validate_database_name
from driver.errors import CollectionInvalid, OperationFailure
from driver.operations.replies import cursor_document, require_str

if TYPE_CHECKING:
    from driver.bson import CodecOptions
    from driver.client import MongoClient
    from driver.collection import Collection
    from driver.concern import ReadConcern, WriteConcern
    from driver.operations.cursor import CommandCursor
    from driver.read_preferences import ServerMode
    from driver.session import ClientSession

#: The server's NamespaceNotFound code: dropping a missing collection is not an error.
NAMESPACE_NOT_FOUND = 26


class Database(NamespaceGuards, InheritedOptions):
    """A database of a ``MongoClient``."""

    _parent_kind = "MongoClient"

    def __init__(
        self, client: MongoClient, name: str, codec_options: CodecOptions | None = None,
        read_preference: ServerMode | None = None, write_concern: WriteConcern | None = None,
        read_concern: ReadConcern | None = None,
    ) -> None:
        validate_database_name(name)
        self._client = client
        self._name = name
        self._inherit_options(client, codec_options, read_preference, write_concern,
                              read_concern)

    @property
    def client(self) -> MongoClient:
        return self._client

    @property
    def name(self) -> str:
        return self._name

    def with_options(
        self, codec_options: CodecOptions | None = None,
        read_preference: ServerMode | None = None, write_concern: WriteConcern | None = None,
        read_concern: ReadConcern | None = None,
    ) -> Database:
        """A copy of this database object with some options changed."""
        return Database(
            self._client, self._name, codec_options or self._codec_options,
            read_preference or self._read_preference, write_concern or self._write_concern,
            read_concern or self._read_concern,
        )

    def __getattr__(self, name: str) -> Collection:
        if name.startswith("_"):
            raise AttributeError(
                f"Database has no attribute {name!r}. To access the {name} collection, "
                f"use database[{name!r}]."
            )
        return self.__getitem__(name)

    def __getitem__(self, name: str) -> Collection:
        return self.get_collection(name)

    def get_collection(
        self, name: str, codec_options: CodecOptions | None = None,
        read_preference: ServerMode | None = None, write_concern: WriteConcern | None = None,
        read_concern: ReadConcern | None = None,
    ) -> Collection:
        """A ``Collection`` with this database's options unless others are given."""
        from driver.collection import Collection

        return Collection(
            self, name, False, codec_options, read_preference, write_concern, read_concern
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Database):
            return (self._client, self._name) == (other._client, other._name)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((self._client, self._name))

    def __repr__(self) -> str:
        return f"Database({self._client!r}, {self._name!r})"

    # -- commands ------------------------------------------------------------------------------

    def command(
        self, command: str | Mapping[str, Any], value: Any = 1, check: bool = True,
        allowable_errors: Sequence[str | int] | None = None,
        read_preference: ServerMode | None = None, codec_options: CodecOptions | None = None,
        session: ClientSession | None = None, comment: Any = None, **kwargs: Any,
    ) -> dict[str, Any]:
        """Run a database command: ``db.command("ping")``, ``db.command({"count": "c"})``,
        ``db.command("count", "c", query={...})``. Runs on the primary unless
        ``read_preference`` says otherwise."""
        if isinstance(command, str):
            spec: dict[str, Any] = {command: value}
        elif isinstance(command, Mapping):
            spec = dict(command)
        else:
            raise TypeError(f"command must be a str or a document, not {type(command).__name__}")
        spec.update(kwargs)
        if comment is not None:
            spec["comment"] = comment
        try:
            reply = self._client._executor.command(
                self._name, spec, session=session, read_preference=read_preference,
                codec_options=codec_options or self._client._command_codec_options,
                kind="command", check=check,
            )
        except OperationFailure as error:
            if allowable_errors and (
                error.code in allowable_errors or str(error.details and
                                                      error.details.get("errmsg")) in allowable_errors
            ):
                return dict(error.details or {})
            raise
        return dict(reply.document)

    def cursor_command(
        self, command: str | Mapping[str, Any], value: Any = 1,
        read_preference: ServerMode | None = None, session: ClientSession | None = None,
        comment: Any = None, max_await_time_ms: int | None = None, **kwargs: Any,
    ) -> CommandCursor:
        """Run a command that opens a cursor and return a ``CommandCursor`` over it."""
        from driver.operations.cursor import CommandCursor

        spec: dict[str, Any] = {command: value} if isinstance(command, str) else dict(command)
        spec.update(kwargs)
        if comment is not None:
            spec["comment"] = comment
        executor = self._client._executor
        owned = session is None
        op_session = session or executor.implicit_session()
        try:
            reply = executor.command(
                self._name, spec, session=op_session, read_preference=read_preference,
                codec_options=self._codec_options, kind="command",
            )
            cursor_doc = cursor_document(reply.document, f"{next(iter(spec))} reply")
        except BaseException:
            if owned:
                op_session.end_session()
            raise
        return CommandCursor(
            self.get_collection("$cmd"), cursor_doc, reply.address,
            max_await_time_ms=max_await_time_ms, session=op_session,
            explicit_session=not owned, comment=comment,
        )

    def aggregate(
        self, pipeline: Sequence[Mapping[str, Any]], session: ClientSession | None = None,
        **kwargs: Any,
    ) -> CommandCursor:
        """A database-level aggregation (``$currentOp``, ``$documents``...)."""
        collection = self.get_collection("$cmd.aggregate")
        let = kwargs.pop("let", None)
        comment = kwargs.pop("comment", None)
        from driver.operations.cursor import CommandCursor

        return collection._aggregate(
            CommandCursor, pipeline, session, let, comment, kwargs, target=1
        )

    # -- collections ---------------------------------------------------------------------------

    def list_collections(
        self, session: ClientSession | None = None, filter: Mapping[str, Any] | None = None,
        comment: Any = None, **kwargs: Any,
    ) -> CommandCursor:
        """A cursor over ``{"name", "type", "options", "info", "idIndex"}`` documents."""
        from driver.operations.cursor import CommandCursor

        command: dict[str, Any] = {"listCollections": 1, "cursor": {}}
        if filter is not None:
            command["filter"] = filter
        if comment is not None:
            command["comment"] = comment
        command.update(kwargs)
        executor = self._client._executor
        owned = session is None
        op_session = session or executor.implicit_session()
        try:
            reply = executor.command(
                self._name, command, session=op_session, codec_options=self._codec_options,
                kind="read", retryable=True,
            )
            cursor_doc = cursor_document(reply.document, "listCollections reply")
        except BaseException:
            if owned:
                op_session.end_session()
            raise
        return CommandCursor(
            self.get_collection("$cmd"), cursor_doc, reply.address,
            session=op_session, explicit_session=not owned, comment=comment,
        )

    def list_collection_names(
        self, session: ClientSession | None = None, filter: Mapping[str, Any] | None = None,
        comment: Any = None, **kwargs: Any,
    ) -> list[str]:
        """The names of the collections (and views) of this database."""
        if filter is None or (len(filter) == 1 and "name" in filter):
            kwargs["nameOnly"] = True
        return [
            require_str(info, "name", "listCollections entry")
            for info in self.list_collections(session=session, filter=filter, comment=comment,
                                              **kwargs)
        ]

    def create_collection(
        self, name: str, codec_options: CodecOptions | None = None,
        read_preference: ServerMode | None = None, write_concern: WriteConcern | None = None,
        read_concern: ReadConcern | None = None, session: ClientSession | None = None,
        check_exists: bool | None = True, **kwargs: Any,
    ) -> Collection:
        """Create a collection explicitly (``capped``, ``size``, ``validator``, ``viewOn``...);
        ``CollectionInvalid`` when it already exists."""
        collection = self.get_collection(
            name, codec_options, read_preference, write_concern, read_concern
        )
        if check_exists and name in self.list_collection_names(
            session=session, filter={"name": name}
        ):
            raise CollectionInvalid(f"collection {self._name}.{name} already exists")
        command: dict[str, Any] = {"create": name}
        command.update(kwargs)
        self._client._executor.command(
            self._name, command, session=session, write_concern=collection.write_concern,
            codec_options=self._codec_options, kind="write",
        )
        return collection

    def drop_collection(
        self, name_or_collection: str | Collection, session: ClientSession | None = None,
        comment: Any = None, encrypted_fields: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Drop a collection; a collection that does not exist is not an error."""
        from driver.collection import Collection

        name = name_or_collection.name if isinstance(name_or_collection, Collection) else (
            name_or_collection
        )
        if not isinstance(name, str):
            raise TypeError("name_or_collection must be an instance of str or Collection")
        command: dict[str, Any] = {"drop": name}
        if comment is not None:
            command["comment"] = comment
        try:
            reply = self._client._executor.command(
                self._name, command, session=session, write_concern=self._write_concern,
                codec_options=self._codec_options, kind="write",
            )
        except OperationFailure as error:
            if error.code == NAMESPACE_NOT_FOUND or "ns not found" in str(error):
                return dict(error.details or {})
            raise
        return dict(reply.document)


__all__ = ["Database"]
