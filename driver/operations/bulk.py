"""Bulk writes: the request classes of ``bulk_write`` and the executor that batches them.

A bulk is split into *runs* of one command type (insert, update, delete): consecutive
operations of one type when ordered, one run per type when unordered (each run keeps the
original index of every operation so errors and upserts report the caller's indexes).
Each run is cut into batches that fit the server's ``maxWriteBatchSize`` and
``maxMessageSize`` (statements travel as an OP_MSG document sequence, so the command
body stays small) and every batch is one command, retried once when retryable writes
are on. Per-batch replies are merged into one result document with the server's field
names (``nInserted``, ``nMatched``, ``nModified``, ``nRemoved``, ``nUpserted``,
``upserted``, ``writeErrors``, ``writeConcernErrors``); any error makes that document
the ``details`` of a ``BulkWriteError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driver.common import encode_document, encode_insert_document, hint_value, validate_document
from driver.errors import (
    BulkWriteError,
    DocumentTooLarge,
    DuplicateKeyError,
    InvalidOperation,
    WriteConcernError,
    WriteError,
)
from driver.operations.replies import (
    bad_field,
    document_list,
    optional_document,
    optional_int,
    optional_list,
    require_int,
)
from driver.results import BulkWriteResult

if TYPE_CHECKING:
    from driver.collection import Collection
    from driver.concern import WriteConcern
    from driver.session import ClientSession

INSERT = 0
UPDATE = 1
DELETE = 2
_COMMANDS = ("insert", "update", "delete")
_SEQUENCE_FIELDS = ("documents", "updates", "deletes")

# Room left in a message for the command body and OP_MSG framing when the statements of
# a batch are counted against maxMessageSize.
_MESSAGE_OVERHEAD = 16 * 1024
# Duplicate-key codes: 11000 (and the legacy 11001, 12582 from older servers).
DUPLICATE_KEY_CODES = frozenset({11000, 11001, 12582})


def _validate_update(update: Any) -> None:
    if isinstance(update, list):
        if not update:
            raise ValueError("update pipeline must not be empty")
        return
    validate_document(update, "update")
    if not update:
        raise ValueError("update must not be empty")
    first = next(iter(update))
    if not str(first).startswith("$"):
        raise ValueError(f"update only works with $ operators; got a key {first!r}")


def _validate_replacement(replacement: Any) -> None:
    validate_document(replacement, "replacement")
    if replacement and str(next(iter(replacement))).startswith("$"):
        raise ValueError("replacement can not include $ operators")


class _WriteOp:
    """Common equality/repr of the request classes."""

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[Any, ...]:
        # Slots of every class in the hierarchy (DeleteMany adds none to DeleteOne's).
        names = [n for cls in reversed(type(self).__mro__) for n in getattr(cls, "__slots__", ())]
        return tuple(getattr(self, name) for name in names)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _WriteOp)
        return self._fields() == other._fields()

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self._fields())))

    def __repr__(self) -> str:
        args = ", ".join(repr(v) for v in self._fields())
        return f"{type(self).__name__}({args})"

    def _add_to_bulk(self, bulk: BulkExecutor) -> None:
        raise NotImplementedError


class InsertOne(_WriteOp):
    """Insert one document (its ``_id`` is generated when absent)."""

    __slots__ = ("_doc",)

    def __init__(self, document: Any) -> None:
        self._doc = document

    def _add_to_bulk(self, bulk: BulkExecutor) -> None:
        bulk.add_insert(self._doc)


class DeleteOne(_WriteOp):
    """Delete the first document matching ``filter``."""

    __slots__ = ("_filter", "_collation", "_hint")

    def __init__(
        self, filter: Mapping[str, Any], collation: Mapping[str, Any] | None = None,
        hint: Any = None,
    ) -> None:
        validate_document(filter, "filter")
        self._filter = filter
        self._collation = collation
        self._hint = hint

    def _add_to_bulk(self, bulk: BulkExecutor) -> None:
        bulk.add_delete(self._filter, 1, collation=self._collation, hint=self._hint)


class DeleteMany(DeleteOne):
    """Delete every document matching ``filter``."""

    __slots__ = ()

    def _add_to_bulk(self, bulk: BulkExecutor) -> None:
        bulk.add_delete(self._filter, 0, collation=self._collation, hint=self._hint)


class ReplaceOne(_WriteOp):
    """Replace the first document matching ``filter`` by ``replacement``."""

    __slots__ = ("_filter", "_doc", "_upsert", "_collation", "_hint")

    def __init__(
        self, filter: Mapping[str, Any], replacement: Mapping[str, Any], upsert: bool = False,
        collation: Mapping[str, Any] | None = None, hint: Any = None,
    ) -> None:
        validate_document(filter, "filter")
        _validate_replacement(replacement)
        self._filter = filter
        self._doc = replacement
        self._upsert = upsert
        self._collation = collation
        self._hint = hint

    def _add_to_bulk(self, bulk: BulkExecutor) -> None:
        bulk.add_update(
            self._filter, self._doc, multi=False, upsert=self._upsert,
            collation=self._collation, hint=self._hint,
        )


class UpdateOne(_WriteOp):
    """Apply ``update`` (operators or a pipeline) to the first document matching ``filter``."""

    __slots__ = ("_filter", "_doc", "_upsert", "_collation", "_array_filters", "_hint")
    _multi = False

    def __init__(
        self, filter: Mapping[str, Any], update: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        upsert: bool = False, collation: Mapping[str, Any] | None = None,
        array_filters: Sequence[Mapping[str, Any]] | None = None, hint: Any = None,
    ) -> None:
        validate_document(filter, "filter")
        _validate_update(update)
        if array_filters is not None and not isinstance(array_filters, list):
            raise TypeError("array_filters must be a list of documents")
        self._filter = filter
        self._doc = update
        self._upsert = upsert
        self._collation = collation
        self._array_filters = array_filters
        self._hint = hint

    def _add_to_bulk(self, bulk: BulkExecutor) -> None:
        bulk.add_update(
            self._filter, self._doc, multi=self._multi, upsert=self._upsert,
            collation=self._collation, array_filters=self._array_filters, hint=self._hint,
        )


class UpdateMany(UpdateOne):
    """Apply ``update`` to every document matching ``filter``."""

    __slots__ = ()
    _multi = True


def update_statement(
    filter: Mapping[str, Any], update: Any, *, multi: bool, upsert: bool,
    collation: Mapping[str, Any] | None = None, array_filters: Any = None, hint: Any = None,
) -> dict[str, Any]:
    """One element of an ``update`` command's ``updates``."""
    statement: dict[str, Any] = {"q": filter, "u": update, "multi": multi, "upsert": upsert}
    if collation is not None:
        statement["collation"] = collation
    if array_filters is not None:
        statement["arrayFilters"] = array_filters
    if hint is not None:
        statement["hint"] = hint_value(hint)
    return statement


def delete_statement(
    filter: Mapping[str, Any], limit: int, *, collation: Mapping[str, Any] | None = None,
    hint: Any = None,
) -> dict[str, Any]:
    """One element of a ``delete`` command's ``deletes``."""
    statement: dict[str, Any] = {"q": filter, "limit": limit}
    if collation is not None:
        statement["collation"] = collation
    if hint is not None:
        statement["hint"] = hint_value(hint)
    return statement


@dataclass
class _Run:
    """Operations of one type, with their index in the caller's list."""

    op_type: int
    indexes: list[int] = field(default_factory=list)
    statements: list[bytes] = field(default_factory=list)
    originals: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class WriteLimits:
    """The limits a batch must fit, from the selected server's hello reply."""

    max_bson_size: int = 16 * 1024 * 1024
    max_message_size: int = 48_000_000
    max_write_batch_size: int = 100_000


def split_batches(statements: Sequence[bytes], limits: WriteLimits, op_type: int) -> list[range]:
    """Cut ``statements`` into consecutive ranges that each fit one command.

    An insert larger than ``maxBsonObjectSize`` is refused before anything is sent
    (``DocumentTooLarge``); the server would refuse the whole batch otherwise.
    """
    batches: list[range] = []
    start = 0
    size = 0
    budget = limits.max_message_size - _MESSAGE_OVERHEAD
    for index, statement in enumerate(statements):
        length = len(statement)
        if op_type == INSERT and length > limits.max_bson_size:
            raise DocumentTooLarge(
                f"BSON document too large ({length} bytes) - the connected server supports "
                f"BSON document sizes up to {limits.max_bson_size} bytes."
            )
        count = index - start
        if count and (count >= limits.max_write_batch_size or size + length > budget):
            batches.append(range(start, index))
            start, size = index, 0
        size += length
    if start < len(statements):
        batches.append(range(start, len(statements)))
    return batches


def new_full_result() -> dict[str, Any]:
    return {
        "writeErrors": [],
        "writeConcernErrors": [],
        "nInserted": 0,
        "nUpserted": 0,
        "nMatched": 0,
        "nModified": 0,
        "nRemoved": 0,
        "upserted": [],
    }


def merge_reply(
    full: dict[str, Any], run: _Run, offset: int, reply: Mapping[str, Any]
) -> None:
    """Fold one batch's reply into the bulk's result, mapping indexes back to the caller's."""
    where = "write reply"
    n = optional_int(reply, "n", where)
    if run.op_type == INSERT:
        full["nInserted"] += n
    elif run.op_type == DELETE:
        full["nRemoved"] += n
    else:
        upserted = document_list(reply, "upserted", where)
        for doc in upserted:
            position = _statement_position(doc, run, offset, "upserted")
            full["upserted"].append({"index": run.indexes[position], "_id": doc.get("_id")})
        full["nUpserted"] += len(upserted)
        full["nMatched"] += n - len(upserted)
        full["nModified"] += optional_int(reply, "nModified", where)
    for error in document_list(reply, "writeErrors", where):
        copy = dict(error)
        position = _statement_position(error, run, offset, "writeErrors")
        copy["index"] = run.indexes[position]
        copy["op"] = run.originals[position]
        full["writeErrors"].append(copy)
    concern_error = optional_document(reply, "writeConcernError", where)
    if concern_error:
        full["writeConcernErrors"].append(dict(concern_error))


def _statement_position(entry: Mapping[str, Any], run: _Run, offset: int, field: str) -> int:
    """The position in ``run`` of the statement an ``upserted``/``writeErrors`` entry names;
    an index outside the batch the server was sent is a malformed reply."""
    position = require_int(entry, "index", f"write reply ({field} entry)") + offset
    if not 0 <= position < len(run.indexes):
        raise bad_field("write reply", f"{field}.index",
                        f"a statement index below {len(run.indexes) - offset}", position - offset)
    return position


class BulkExecutor:
    """Collects the operations of one ``bulk_write`` / ``insert_many`` and runs them."""

    def __init__(
        self, collection: Collection, ordered: bool, bypass_document_validation: bool | None,
        comment: Any = None, let: Mapping[str, Any] | None = None,
    ) -> None:
        self._collection = collection
        self._codec_options = collection.codec_options
        self.ordered = ordered
        self.bypass_document_validation = bypass_document_validation
        self.comment = comment
        self.let = let
        self._ops: list[tuple[int, bytes, Any]] = []
        self.executed = False

    def add_insert(self, document: Any) -> None:
        self._ops.append((INSERT, encode_insert_document(document, self._codec_options), document))

    def add_update(
        self, filter: Mapping[str, Any], update: Any, *, multi: bool, upsert: bool,
        collation: Mapping[str, Any] | None = None, array_filters: Any = None, hint: Any = None,
    ) -> None:
        statement = update_statement(
            filter, update, multi=multi, upsert=upsert, collation=collation,
            array_filters=array_filters, hint=hint,
        )
        self._ops.append((UPDATE, encode_document(statement, self._codec_options), statement))

    def add_delete(
        self, filter: Mapping[str, Any], limit: int, *, collation: Mapping[str, Any] | None = None,
        hint: Any = None,
    ) -> None:
        statement = delete_statement(filter, limit, collation=collation, hint=hint)
        self._ops.append((DELETE, encode_document(statement, self._codec_options), statement))

    def _runs(self) -> list[_Run]:
        if self.ordered:
            runs: list[_Run] = []
            for index, (op_type, statement, original) in enumerate(self._ops):
                if not runs or runs[-1].op_type != op_type:
                    runs.append(_Run(op_type))
                runs[-1].indexes.append(index)
                runs[-1].statements.append(statement)
                runs[-1].originals.append(original)
            return runs
        by_type = [_Run(INSERT), _Run(UPDATE), _Run(DELETE)]
        for index, (op_type, statement, original) in enumerate(self._ops):
            run = by_type[op_type]
            run.indexes.append(index)
            run.statements.append(statement)
            run.originals.append(original)
        return [run for run in by_type if run.statements]

    def _command_body(self, op_type: int) -> dict[str, Any]:
        body: dict[str, Any] = {_COMMANDS[op_type]: self._collection.name, "ordered": self.ordered}
        if op_type == INSERT and self.bypass_document_validation:
            body["bypassDocumentValidation"] = True
        if op_type == UPDATE and self.bypass_document_validation:
            body["bypassDocumentValidation"] = True
        if self.comment is not None:
            body["comment"] = self.comment
        if self.let is not None and op_type != INSERT:
            body["let"] = self.let
        return body

    def execute(
        self, write_concern: WriteConcern | None, session: ClientSession | None
    ) -> BulkWriteResult:
        """Send every batch; raise ``BulkWriteError`` with the merged details on any error."""
        if self.executed:
            raise InvalidOperation("Bulk operations can only be executed once.")
        if not self._ops:
            raise InvalidOperation("No operations to execute")
        self.executed = True
        executor = self._collection._executor
        acknowledged = write_concern is None or write_concern.acknowledged
        full = new_full_result()
        with executor.session_for(session) as op_session:
            limits = executor.write_limits(op_session)
            for run in self._runs():
                for batch in split_batches(run.statements, limits, run.op_type):
                    reply = executor.write_command(
                        self._collection.database.name,
                        self._command_body(run.op_type),
                        sequence_field=_SEQUENCE_FIELDS[run.op_type],
                        sequence=run.statements[batch.start : batch.stop],
                        session=op_session,
                        write_concern=write_concern,
                        retryable=_retryable(run, batch),
                        codec_options=self._collection.codec_options,
                    )
                    if reply is None:  # unacknowledged
                        continue
                    merge_reply(full, run, batch.start, reply)
                    if self.ordered and full["writeErrors"]:
                        _raise_bulk_error(full)
        if full["writeErrors"] or full["writeConcernErrors"]:
            _raise_bulk_error(full)
        return BulkWriteResult(full if acknowledged else {}, acknowledged)


def _retryable(run: _Run, batch: range) -> bool:
    """Retryable writes spec: a batch with a multi-document update or delete
    (``multi: true``, ``limit: 0``) is not retryable."""
    if run.op_type == UPDATE:
        return not any(run.originals[i].get("multi") for i in batch)
    if run.op_type == DELETE:
        return all(run.originals[i].get("limit") == 1 for i in batch)
    return True


def _raise_bulk_error(full: dict[str, Any]) -> None:
    full["writeErrors"].sort(key=lambda error: error["index"])
    raise BulkWriteError(full)


def check_single_write_reply(reply: Mapping[str, Any], max_wire_version: int | None = None) -> None:
    """Raise the error of a one-statement write (``insert_one``, ``update_one``...).

    The last write error becomes ``WriteError`` (``DuplicateKeyError`` for the
    duplicate-key codes); a write concern error becomes ``WriteConcernError``.
    """
    errors = document_list(reply, "writeErrors", "write reply")
    if errors:
        error = dict(errors[-1])
        error.setdefault("errmsg", "write error")
        code = error.get("code")
        cls = DuplicateKeyError if code in DUPLICATE_KEY_CODES else WriteError
        raise cls(str(error["errmsg"]), code, error, max_wire_version)
    concern_error = optional_document(reply, "writeConcernError", "write reply")
    if concern_error:
        details = dict(concern_error)
        if "errorLabels" in reply:
            details["errorLabels"] = list(optional_list(reply, "errorLabels", "write reply"))
        raise WriteConcernError(str(details.get("errmsg", "write concern error")),
                                details.get("code"), details, max_wire_version)


__all__ = [
    "BulkExecutor",
    "DeleteMany",
    "DeleteOne",
    "InsertOne",
    "ReplaceOne",
    "UpdateMany",
    "UpdateOne",
    "WriteLimits",
    "check_single_write_reply",
    "split_batches",
]
