"""``Collection``: CRUD, aggregation and indexes, with PyMongo's method names and keywords.

Every method builds one server command and hands it to the client's executor
(``driver.operations.executor``), which selects the server, attaches the session, concerns and
read preference, retries once where the specifications allow it, and turns error
replies into exceptions. Index management lives in ``driver.indexes`` to keep this
file readable; the methods are mixed in here under their usual names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from driver.common import (
    InheritedOptions,
    NamespaceGuards,
    ReturnDocument,
    encode_document,
    encode_insert_document,
    hint_value,
    index_document,
    index_list,
    projection_document,
    validate_collection_name,
    validate_document,
)
from driver.errors import InvalidOperation, OperationFailure
from driver.indexes import IndexMethods
from driver.operations.bulk import (
    DELETE,
    INSERT,
    UPDATE,
    BulkExecutor,
    _validate_replacement,
    _validate_update,
    _WriteOp,
    check_single_write_reply,
    delete_statement,
    update_statement,
)
from driver.operations.cursor import CommandCursor, Cursor, RawBatchCommandCursor, RawBatchCursor
from driver.operations.replies import (
    bad_field,
    cursor_batch,
    cursor_document,
    optional_int,
    optional_list,
    require_int,
)
from driver.results import (
    BulkWriteResult,
    DeleteResult,
    InsertManyResult,
    InsertOneResult,
    UpdateResult,
)

if TYPE_CHECKING:
    from driver.bson import CodecOptions
    from driver.concern import ReadConcern, WriteConcern
    from driver.database import Database
    from driver.operations.executor import Executor
    from driver.read_preferences import ServerMode
    from driver.session import ClientSession

_SEQUENCE_FIELDS = ("documents", "updates", "deletes")
_COMMANDS = ("insert", "update", "delete")


def _has_write_stage(pipeline: Sequence[Mapping[str, Any]]) -> bool:
    return bool(pipeline) and isinstance(pipeline[-1], Mapping) and (
        "$out" in pipeline[-1] or "$merge" in pipeline[-1]
    )


class Collection(IndexMethods, NamespaceGuards, InheritedOptions):
    """A collection of a ``Database``: ``client["db"]["name"]`` or ``db.name``."""

    _parent_kind = "Database"

    def __init__(
        self, database: Database, name: str, create: bool = False,
        codec_options: CodecOptions | None = None, read_preference: ServerMode | None = None,
        write_concern: WriteConcern | None = None, read_concern: ReadConcern | None = None,
        session: ClientSession | None = None, **kwargs: Any,
    ) -> None:
        validate_collection_name(name)
        self._database = database
        self._name = name
        self._inherit_options(database, codec_options, read_preference, write_concern,
                              read_concern)
        if create or kwargs:
            database.create_collection(name, session=session, **kwargs)

    # -- identity and options ------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def full_name(self) -> str:
        """``"database.collection"``."""
        return f"{self._database.name}.{self._name}"

    @property
    def database(self) -> Database:
        return self._database

    @property
    def _executor(self) -> Executor:
        return self._database.client._executor

    def with_options(
        self, codec_options: CodecOptions | None = None,
        read_preference: ServerMode | None = None, write_concern: WriteConcern | None = None,
        read_concern: ReadConcern | None = None,
    ) -> Collection:
        """A copy of this collection with some options changed."""
        return Collection(
            self._database, self._name, False, codec_options or self._codec_options,
            read_preference or self._read_preference, write_concern or self._write_concern,
            read_concern or self._read_concern,
        )

    def __getattr__(self, name: str) -> Collection:
        if name.startswith("_"):
            full = f"{self._name}.{name}"
            raise AttributeError(
                f"Collection has no attribute {name!r}. To access the {full} collection, "
                f"use database[{full!r}]."
            )
        return self.__getitem__(name)

    def __getitem__(self, name: str) -> Collection:
        return Collection(
            self._database, f"{self._name}.{name}", False, self._codec_options,
            self._read_preference, self._write_concern, self._read_concern,
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Collection):
            return (self._database, self._name) == (other._database, other._name)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((self._database, self._name))

    def __repr__(self) -> str:
        return f"Collection({self._database!r}, {self._name!r})"

    # -- encoding ------------------------------------------------------------------------------

    def _encode(self, document: Mapping[str, Any]) -> bytes:
        return encode_document(document, self._codec_options)

    def _encode_insert(self, document: Any) -> bytes:
        return encode_insert_document(document, self._codec_options)

    # -- writes --------------------------------------------------------------------------------

    def _write_concern_for(self, session: ClientSession | None) -> WriteConcern:
        return self._write_concern

    def _single_write(
        self, op_type: int, statement: bytes, *, session: ClientSession | None,
        retryable: bool, bypass_document_validation: bool | None = None,
        comment: Any = None, let: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any] | None:
        body: dict[str, Any] = {_COMMANDS[op_type]: self._name, "ordered": True}
        if bypass_document_validation and op_type != DELETE:
            body["bypassDocumentValidation"] = True
        if comment is not None:
            body["comment"] = comment
        if let is not None:
            body["let"] = let
        reply = self._executor.write_command(
            self._database.name, body, sequence_field=_SEQUENCE_FIELDS[op_type],
            sequence=[statement], session=session, write_concern=self._write_concern,
            retryable=retryable, codec_options=self._codec_options,
        )
        if reply is not None:
            check_single_write_reply(reply)
        return reply

    def insert_one(
        self, document: Any, bypass_document_validation: bool | None = None,
        session: ClientSession | None = None, comment: Any = None,
    ) -> InsertOneResult:
        """Insert one document; its ``_id`` is added when missing."""
        statement = self._encode_insert(document)
        reply = self._single_write(
            INSERT, statement, session=session, retryable=True,
            bypass_document_validation=bypass_document_validation, comment=comment,
        )
        return InsertOneResult(document.get("_id"), reply is not None)

    def insert_many(
        self, documents: Iterable[Any], ordered: bool = True,
        bypass_document_validation: bool | None = None, session: ClientSession | None = None,
        comment: Any = None,
    ) -> InsertManyResult:
        """Insert documents in as few commands as the server's limits allow."""
        if isinstance(documents, Mapping) or not isinstance(documents, Iterable):
            raise TypeError("insert_many needs a non-empty list of documents")
        bulk = BulkExecutor(self, ordered, bypass_document_validation, comment)
        inserted_ids: list[Any] = []
        for document in documents:
            bulk.add_insert(document)
            inserted_ids.append(document["_id"])
        if not inserted_ids:
            raise TypeError("insert_many needs a non-empty list of documents")
        result = bulk.execute(self._write_concern, session)
        return InsertManyResult(inserted_ids, result.acknowledged)

    def _update(
        self, filter: Mapping[str, Any], update: Any, *, multi: bool, upsert: bool,
        bypass_document_validation: bool | None, collation: Any, array_filters: Any,
        hint: Any, session: ClientSession | None, let: Any, comment: Any,
    ) -> UpdateResult:
        validate_document(filter, "filter")
        statement = update_statement(
            filter, update, multi=multi, upsert=upsert, collation=collation,
            array_filters=array_filters, hint=hint,
        )
        reply = self._single_write(
            UPDATE, self._encode(statement), session=session, retryable=not multi,
            bypass_document_validation=bypass_document_validation, comment=comment, let=let,
        )
        return UpdateResult(_update_raw_result(reply), reply is not None)

    def replace_one(
        self, filter: Mapping[str, Any], replacement: Mapping[str, Any], upsert: bool = False,
        bypass_document_validation: bool | None = None, collation: Any = None,
        hint: Any = None, session: ClientSession | None = None, let: Any = None,
        comment: Any = None,
    ) -> UpdateResult:
        """Replace the first matching document (or insert it, with ``upsert=True``)."""
        _validate_replacement(replacement)
        return self._update(
            filter, replacement, multi=False, upsert=upsert,
            bypass_document_validation=bypass_document_validation, collation=collation,
            array_filters=None, hint=hint, session=session, let=let, comment=comment,
        )

    def update_one(
        self, filter: Mapping[str, Any], update: Any, upsert: bool = False,
        bypass_document_validation: bool | None = None, collation: Any = None,
        array_filters: Sequence[Mapping[str, Any]] | None = None, hint: Any = None,
        session: ClientSession | None = None, let: Any = None, comment: Any = None,
    ) -> UpdateResult:
        """Apply update operators (or a pipeline) to the first matching document."""
        _validate_update(update)
        return self._update(
            filter, update, multi=False, upsert=upsert,
            bypass_document_validation=bypass_document_validation, collation=collation,
            array_filters=array_filters, hint=hint, session=session, let=let, comment=comment,
        )

    def update_many(
        self, filter: Mapping[str, Any], update: Any, upsert: bool = False,
        array_filters: Sequence[Mapping[str, Any]] | None = None,
        bypass_document_validation: bool | None = None, collation: Any = None,
        hint: Any = None, session: ClientSession | None = None, let: Any = None,
        comment: Any = None,
    ) -> UpdateResult:
        """Apply update operators (or a pipeline) to every matching document."""
        _validate_update(update)
        return self._update(
            filter, update, multi=True, upsert=upsert,
            bypass_document_validation=bypass_document_validation, collation=collation,
            array_filters=array_filters, hint=hint, session=session, let=let, comment=comment,
        )

    def _delete(
        self, filter: Mapping[str, Any], limit: int, collation: Any, hint: Any,
        session: ClientSession | None, let: Any, comment: Any,
    ) -> DeleteResult:
        validate_document(filter, "filter")
        statement = delete_statement(filter, limit, collation=collation, hint=hint)
        reply = self._single_write(
            DELETE, self._encode(statement), session=session, retryable=limit == 1,
            comment=comment, let=let,
        )
        return DeleteResult(reply, reply is not None)

    def delete_one(
        self, filter: Mapping[str, Any], collation: Any = None, hint: Any = None,
        session: ClientSession | None = None, let: Any = None, comment: Any = None,
    ) -> DeleteResult:
        return self._delete(filter, 1, collation, hint, session, let, comment)

    def delete_many(
        self, filter: Mapping[str, Any], collation: Any = None, hint: Any = None,
        session: ClientSession | None = None, let: Any = None, comment: Any = None,
    ) -> DeleteResult:
        return self._delete(filter, 0, collation, hint, session, let, comment)

    def bulk_write(
        self, requests: Sequence[_WriteOp], ordered: bool = True,
        bypass_document_validation: bool | None = None, session: ClientSession | None = None,
        comment: Any = None, let: Mapping[str, Any] | None = None,
    ) -> BulkWriteResult:
        """Run ``InsertOne``/``UpdateOne``/``UpdateMany``/``ReplaceOne``/``DeleteOne``/
        ``DeleteMany`` requests; errors come back together in ``BulkWriteError.details``."""
        if not isinstance(requests, list):
            raise TypeError(f"requests must be a list, not {type(requests).__name__}")
        bulk = BulkExecutor(self, ordered, bypass_document_validation, comment, let)
        for request in requests:
            if not isinstance(request, _WriteOp):
                raise TypeError(f"{request!r} is not a valid request")
            request._add_to_bulk(bulk)
        return bulk.execute(self._write_concern, session)

    # -- reads ---------------------------------------------------------------------------------

    def find(self, *args: Any, **kwargs: Any) -> Cursor:
        """A lazy ``Cursor`` over the matching documents (see ``Cursor`` for the keywords)."""
        return Cursor(self, *args, **kwargs)

    def find_raw_batches(self, *args: Any, **kwargs: Any) -> RawBatchCursor:
        """Like ``find``, but yields each batch as undecoded BSON bytes."""
        return RawBatchCursor(self, *args, **kwargs)

    def find_one(self, filter: Any = None, *args: Any, **kwargs: Any) -> Any:
        """The first matching document, or ``None``; a non-document filter means ``_id``."""
        if filter is not None and not isinstance(filter, Mapping):
            filter = {"_id": filter}
        cursor = self.find(filter, *args, **kwargs)
        for document in cursor.limit(-1):
            return document
        return None

    def _read_command(
        self, command: dict[str, Any], session: ClientSession | None,
        read_preference: ServerMode | None = None,
    ) -> Mapping[str, Any]:
        return self._executor.command(
            self._database.name, command, session=session,
            read_preference=read_preference or self._read_preference,
            read_concern=self._read_concern, codec_options=self._codec_options, kind="read",
        ).document

    def count_documents(
        self, filter: Mapping[str, Any], session: ClientSession | None = None,
        comment: Any = None, **kwargs: Any,
    ) -> int:
        """How many documents match (an exact count, by aggregation)."""
        validate_document(filter, "filter")
        pipeline: list[dict[str, Any]] = [{"$match": filter}]
        if "skip" in kwargs:
            pipeline.append({"$skip": kwargs.pop("skip")})
        if "limit" in kwargs:
            pipeline.append({"$limit": kwargs.pop("limit")})
        pipeline.append({"$group": {"_id": 1, "n": {"$sum": 1}}})
        command: dict[str, Any] = {"aggregate": self._name, "pipeline": pipeline, "cursor": {}}
        if "hint" in kwargs:
            kwargs["hint"] = hint_value(kwargs["hint"])
        if comment is not None:
            command["comment"] = comment
        command.update(_camel_options(kwargs))
        reply = self._read_command(command, session)
        batch = cursor_batch(cursor_document(reply, "count reply"), "firstBatch", "count reply")
        if not batch:
            return 0
        group = batch[0]
        if not isinstance(group, Mapping):
            raise bad_field("count reply", "cursor.firstBatch.0", "a document", group)
        return require_int(group, "n", "count reply (cursor.firstBatch.0)")

    def estimated_document_count(self, comment: Any = None, **kwargs: Any) -> int:
        """The collection's size from its metadata (fast, may be approximate)."""
        command: dict[str, Any] = {"count": self._name}
        if comment is not None:
            command["comment"] = comment
        command.update(_camel_options(kwargs))
        try:
            reply = self._read_command(command, kwargs.get("session"))
        except OperationFailure as error:
            if error.code == 26:  # NamespaceNotFound: an absent collection has 0 documents
                return 0
            raise
        return optional_int(reply, "n", "count reply")

    def distinct(
        self, key: str, filter: Mapping[str, Any] | None = None,
        session: ClientSession | None = None, comment: Any = None, hint: Any = None,
        **kwargs: Any,
    ) -> list[Any]:
        """The distinct values of ``key`` among the matching documents."""
        if not isinstance(key, str):
            raise TypeError(f"key must be a str, not {type(key).__name__}")
        command: dict[str, Any] = {"distinct": self._name, "key": key}
        if filter is not None:
            validate_document(filter, "filter")
            command["query"] = filter
        if comment is not None:
            command["comment"] = comment
        if hint is not None:
            command["hint"] = hint_value(hint)
        command.update(_camel_options(kwargs))
        return list(optional_list(self._read_command(command, session), "values",
                                  "distinct reply"))

    def _aggregate(
        self, cursor_class: type[CommandCursor], pipeline: Sequence[Mapping[str, Any]],
        session: ClientSession | None, let: Any, comment: Any, kwargs: dict[str, Any],
        target: str | int | None = None,
    ) -> CommandCursor:
        if not isinstance(pipeline, list):
            raise TypeError("pipeline must be a list of stages")
        batch_size = kwargs.pop("batchSize", kwargs.pop("batch_size", 0)) or 0
        max_await = kwargs.pop("maxAwaitTimeMS", kwargs.pop("max_await_time_ms", None))
        cursor_options: dict[str, Any] = {}
        if batch_size:
            cursor_options["batchSize"] = batch_size
        writes = _has_write_stage(pipeline)
        command: dict[str, Any] = {
            "aggregate": target if target is not None else self._name,
            "pipeline": pipeline,
            "cursor": cursor_options,
        }
        if let is not None:
            command["let"] = let
        if comment is not None:
            command["comment"] = comment
        if "hint" in kwargs:
            kwargs["hint"] = hint_value(kwargs["hint"])
        command.update(_camel_options(kwargs))
        executor = self._executor
        owned = session is None
        op_session = session or executor.implicit_session()
        try:
            reply = executor.command(
                self._database.name, command, session=op_session,
                read_preference=None if writes else self._read_preference,
                read_concern=self._read_concern,
                write_concern=self._write_concern if writes else None,
                codec_options=self._codec_options, kind="write" if writes else "read",
                raw_batches=cursor_class is RawBatchCommandCursor,
            )
            # A raw reply's "cursor" holds only id and ns; its batch is in reply.raw_batch.
            cursor_doc = cursor_document(reply.document, "aggregate reply")
        except BaseException:
            if owned:
                op_session.end_session()
            raise
        cursor = cursor_class(
            self, cursor_doc, reply.address, batch_size=batch_size,
            max_await_time_ms=max_await, session=op_session, explicit_session=not owned,
            comment=comment,
        )
        if reply.raw_batch is not None:
            cursor._take_batch(reply, first=True)
        return cursor

    def aggregate(
        self, pipeline: Sequence[Mapping[str, Any]], session: ClientSession | None = None,
        let: Mapping[str, Any] | None = None, comment: Any = None, **kwargs: Any,
    ) -> CommandCursor:
        """Run an aggregation pipeline (``$out``/``$merge`` go to the primary with the
        write concern) and return a ``CommandCursor``."""
        return self._aggregate(CommandCursor, pipeline, session, let, comment, kwargs)

    def aggregate_raw_batches(
        self, pipeline: Sequence[Mapping[str, Any]], session: ClientSession | None = None,
        comment: Any = None, **kwargs: Any,
    ) -> CommandCursor:
        """``aggregate`` whose cursor yields undecoded batches (bytes)."""
        if _has_write_stage(list(pipeline)):
            raise InvalidOperation("aggregate_raw_batches does not support $out or $merge")
        return self._aggregate(RawBatchCommandCursor, pipeline, session, None, comment, kwargs)

    # -- findAndModify -------------------------------------------------------------------------

    def _find_and_modify(
        self, filter: Mapping[str, Any], projection: Any, sort: Any, upsert: bool | None,
        return_document: bool, array_filters: Any, hint: Any, session: ClientSession | None,
        let: Any, comment: Any, kwargs: dict[str, Any], *, update: Any = None,
        remove: bool = False,
    ) -> Any:
        validate_document(filter, "filter")
        if not isinstance(return_document, bool):
            raise ValueError("return_document must be ReturnDocument.BEFORE or ReturnDocument.AFTER")
        command: dict[str, Any] = {"findAndModify": self._name, "query": filter}
        if remove:
            command["remove"] = True
        else:
            command["update"] = update
            command["new"] = return_document
            if upsert:
                command["upsert"] = True
        if projection is not None:
            command["fields"] = projection_document(projection)
        if sort is not None:
            command["sort"] = index_document(index_list(sort))
        if array_filters is not None:
            command["arrayFilters"] = array_filters
        if hint is not None:
            command["hint"] = hint_value(hint)
        if let is not None:
            command["let"] = let
        if comment is not None:
            command["comment"] = comment
        command.update(_camel_options(kwargs))
        reply = self._executor.command(
            self._database.name, command, session=session, write_concern=self._write_concern,
            codec_options=self._codec_options, kind="write", retryable=True,
        ).document
        value = reply.get("value")
        if value is not None and not isinstance(value, Mapping):
            raise bad_field("findAndModify reply", "value", "a document or null", value)
        return value

    def find_one_and_delete(
        self, filter: Mapping[str, Any], projection: Any = None, sort: Any = None,
        hint: Any = None, session: ClientSession | None = None, let: Any = None,
        comment: Any = None, **kwargs: Any,
    ) -> Any:
        """Delete the first matching document and return it (``None`` when none matched)."""
        return self._find_and_modify(
            filter, projection, sort, None, ReturnDocument.BEFORE, None, hint, session, let,
            comment, kwargs, remove=True,
        )

    def find_one_and_replace(
        self, filter: Mapping[str, Any], replacement: Mapping[str, Any], projection: Any = None,
        sort: Any = None, upsert: bool = False, return_document: bool = ReturnDocument.BEFORE,
        hint: Any = None, session: ClientSession | None = None, let: Any = None,
        comment: Any = None, **kwargs: Any,
    ) -> Any:
        """Replace the first matching document; return it before or after (``ReturnDocument``)."""
        _validate_replacement(replacement)
        return self._find_and_modify(
            filter, projection, sort, upsert, return_document, None, hint, session, let,
            comment, kwargs, update=replacement,
        )

    def find_one_and_update(
        self, filter: Mapping[str, Any], update: Any, projection: Any = None, sort: Any = None,
        upsert: bool = False, return_document: bool = ReturnDocument.BEFORE,
        array_filters: Sequence[Mapping[str, Any]] | None = None, hint: Any = None,
        session: ClientSession | None = None, let: Any = None, comment: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Update the first matching document; return it before or after (``ReturnDocument``)."""
        _validate_update(update)
        return self._find_and_modify(
            filter, projection, sort, upsert, return_document, array_filters, hint, session,
            let, comment, kwargs, update=update,
        )

    # -- collection-level commands -------------------------------------------------------------

    def rename(
        self, new_name: str, session: ClientSession | None = None, comment: Any = None,
        **kwargs: Any,
    ) -> Mapping[str, Any]:
        """Rename this collection (``dropTarget=True`` replaces an existing one)."""
        validate_collection_name(new_name)
        command: dict[str, Any] = {
            "renameCollection": self.full_name,
            "to": f"{self._database.name}.{new_name}",
        }
        command.update(kwargs)
        if comment is not None:
            command["comment"] = comment
        return self._executor.command(
            "admin", command, session=session, write_concern=self._write_concern,
            codec_options=self._codec_options, kind="write",
        ).document

    def drop(
        self, session: ClientSession | None = None, comment: Any = None,
        encrypted_fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Drop this collection (no error when it does not exist)."""
        self._database.drop_collection(self._name, session=session, comment=comment)

    def options(self, session: ClientSession | None = None, comment: Any = None) -> dict[str, Any]:
        """The options the collection was created with (``{}`` when none)."""
        cursor = self._database.list_collections(
            filter={"name": self._name}, session=session, comment=comment
        )
        for info in cursor:
            options = dict(info.get("options", {}))
            options.pop("create", None)
            return options
        return {}


def _update_raw_result(reply: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if reply is None:
        return None
    result = dict(reply)
    upserted = result.get("upserted")
    if isinstance(upserted, list):
        result["upserted"] = upserted[0]["_id"] if upserted else None
    return result


_CAMEL = {
    "max_time_ms": "maxTimeMS",
    "allow_disk_use": "allowDiskUse",
    "bypass_document_validation": "bypassDocumentValidation",
    "batch_size": "batchSize",
    "max_await_time_ms": "maxAwaitTimeMS",
}


def _camel_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword options as command fields (``max_time_ms`` → ``maxTimeMS``); ``session`` is
    never a command field."""
    return {_CAMEL.get(k, k): v for k, v in options.items() if k != "session"}


__all__ = ["Collection", "ReturnDocument"]
