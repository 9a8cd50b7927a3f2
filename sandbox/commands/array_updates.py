"""Array updates mongomock lacks: ``arrayFilters`` with ``$[<id>]``, the all-positional ``$[]``,
``$mul``, ``$min``/``$max`` of an array element, and ``$unset`` of an array element.

The approach is a rewrite per document: for each document an update would touch, every path holding
``$[...]`` is expanded into the concrete paths it names in *that* document (``tags.$[t]`` becomes
``tags.0`` and ``tags.2`` when those elements match the filter of ``t``), ``$mul`` becomes a ``$set``
of the product, ``$min``/``$max`` a ``$set`` when the value wins in BSON order, and ``$unset`` of an array element becomes a ``$set`` to null (what the server
does: an array keeps its length). mongomock then applies the rewritten update to that one document
by ``_id``, so unique indexes, ``nModified`` and the rest stay mongomock's.

Array filters are matched with mongomock's own query engine: the filter ``{"t": {"$gte": 2}}`` is
applied to the one-field document ``{"t": <element>}``.

Parse-time errors have the server's shapes: an identifier with no filter is BadValue (2) "No array
filter found for identifier 't' in path '...'", a filter no path uses is FailedToParse (9) "The
array filter for identifier 'x' was not used in the update ...".
"""

from __future__ import annotations

import decimal
import operator as python_operator
import re
from collections.abc import Callable, Iterator
from typing import Any

from bson import Decimal128
from mongomock import filtering

import sandbox.bson_order as bson_order
from sandbox.errors import BAD_VALUE, CommandError, type_mismatch

FAILED_TO_PARSE = 9
CONFLICTING_UPDATE_OPERATORS = 40
TYPE_MISMATCH = 14
# The operators that accept ``$[]`` / ``$[<id>]`` here (the brief of this module; ``$push`` and
# friends with positional paths are refused clearly rather than half-done).
POSITIONAL_OPERATORS = ("$set", "$unset", "$inc", "$mul", "$min", "$max")
# "The <identifier> must begin with a lowercase letter and contain only alphanumeric characters."
IDENTIFIER = re.compile(r"^[a-z][a-zA-Z0-9]*$")
_MISSING = object()
filter_applies: Callable[[dict[str, Any], dict[str, Any]], bool] = filtering.filter_applies
bson_compare: Callable[..., bool] = bson_order.bson_compare


def _is_positional(part: str) -> bool:
    return part.startswith("$[") and part.endswith("]")


def _paths(update: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for operator, fields in update.items():
        if operator.startswith("$") and isinstance(fields, dict):
            for path in fields:
                yield operator, path


def uses_positional(update: Any) -> bool:
    """Does this operator-style update name ``$[]`` or ``$[<id>]`` anywhere?"""
    if not isinstance(update, dict):
        return False
    return any(_is_positional(part) for _op, path in _paths(update) for part in path.split("."))


def needs_rewrite(update: Any, array_filters: Any) -> bool:
    """Must this update go through :func:`rewrite` (mongomock alone would get it wrong)?"""
    if not isinstance(update, dict) or not update:
        return False
    return array_filters is not None or uses_positional(update) \
        or any(op in update for op in ("$mul", "$unset", "$min", "$max"))


def _top_level_names(flt: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for key, value in flt.items():
        if key in ("$and", "$or", "$nor") and isinstance(value, list):
            for sub in value:
                if isinstance(sub, dict):
                    names |= _top_level_names(sub)
        elif not key.startswith("$"):
            names.add(key.split(".", 1)[0])
    return names


def parse_array_filters(value: Any, field: str = "arrayFilters") -> dict[str, dict[str, Any]]:
    """Check ``arrayFilters`` and index the filters by their identifier."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise type_mismatch(field, "array", value)
    filters: dict[str, dict[str, Any]] = {}
    for index, flt in enumerate(value):
        if not isinstance(flt, dict):
            raise type_mismatch(f"{field}.{index}", "object", flt)
        names = _top_level_names(flt)
        if not names:
            raise CommandError(FAILED_TO_PARSE, "Cannot use an expression without a top-level "
                                                "field name in arrayFilters")
        if len(names) > 1:
            first, second = sorted(names)[:2]
            raise CommandError(FAILED_TO_PARSE, "Error parsing array filter :: caused by :: "
                               f"Expected a single top-level field name, found '{first}' and "
                               f"'{second}'")
        name = names.pop()
        if not IDENTIFIER.match(name):
            raise CommandError(BAD_VALUE, "Error parsing array filter :: caused by :: The "
                               "top-level field name must be an alphanumeric string beginning "
                               f"with a lowercase letter, found '{name}'")
        if name in filters:
            raise CommandError(FAILED_TO_PARSE, "Found multiple array filters with the same "
                                                f"top-level field name {name}")
        filters[name] = bson_order.numeric_filter(flt)  # matching only: numbers by value
    return filters


def check_update(update: Any, filters: dict[str, dict[str, Any]]) -> None:
    """Parse-time checks, made before any document is looked at (as the server does)."""
    if not isinstance(update, dict):
        if filters:
            raise CommandError(FAILED_TO_PARSE, "arrayFilters may not be specified for "
                                                "pipeline-style updates")
        return
    used: set[str] = set()
    for operator, path in _paths(update):
        for part in path.split("."):
            if not _is_positional(part):
                continue
            if operator not in POSITIONAL_OPERATORS:
                raise CommandError(BAD_VALUE, f"not supported by the sandbox: {operator} with the "
                                              f"positional path '{path}'")
            identifier = part[2:-1]
            if not identifier:
                continue
            if identifier not in filters:
                raise CommandError(BAD_VALUE, f"No array filter found for identifier "
                                              f"'{identifier}' in path '{path}'")
            used.add(identifier)
    for identifier in filters:
        if identifier not in used:
            raise CommandError(FAILED_TO_PARSE, f"The array filter for identifier '{identifier}' "
                                                f"was not used in the update {update}")


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part, _MISSING)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return _MISSING


def _concrete_paths(node: Any, parts: list[str], filters: dict[str, dict[str, Any]],
                    done: list[str]) -> Iterator[tuple[str, Any]]:
    """Yield ``(concrete path, current value)`` for each place a path names in a document."""
    if not parts:
        yield ".".join(done), node
        return
    head, rest = parts[0], parts[1:]
    if not _is_positional(head):
        yield from _concrete_paths(_child(node, head), rest, filters, [*done, head])
        return
    where = ".".join(done)
    if node is _MISSING:
        raise CommandError(BAD_VALUE, f"The path '{where}' must exist in the document in order "
                                      "to apply array updates.")
    if not isinstance(node, list):
        raise CommandError(BAD_VALUE, f"Cannot apply array updates to non-array element "
                                      f"{where}: {node!r}")
    identifier = head[2:-1]
    for index, element in enumerate(node):
        if identifier and not filter_applies(filters[identifier], {identifier: element}):
            continue
        yield from _concrete_paths(element, rest, filters, [*done, str(index)])


def _parent_is_array(doc: dict[str, Any], path: str) -> bool:
    parent_path, _dot, last = path.rpartition(".")
    if not parent_path or not last.isdigit():
        return False
    node: Any = doc
    for part in parent_path.split("."):
        node = _child(node, part)
    return isinstance(node, list)


def _as_decimal(value: Any) -> decimal.Decimal:
    return value.to_decimal() if isinstance(value, Decimal128) else decimal.Decimal(str(value))


def _product(path: str, current: Any, factor: Any, doc: dict[str, Any]) -> Any:
    numeric = (int, float, Decimal128)
    if isinstance(factor, bool) or not isinstance(factor, numeric):
        raise CommandError(TYPE_MISMATCH, f"Cannot multiply with non-numeric argument: "
                                          f"{{{path}: {factor!r}}}")
    if current is _MISSING:
        # "If the field does not exist in a document, $mul adds the field and sets the value to
        # zero of the same numeric type as the multiplier."
        return Decimal128("0") if isinstance(factor, Decimal128) else factor * 0
    if isinstance(current, bool) or not isinstance(current, numeric):
        raise CommandError(TYPE_MISMATCH, f"Cannot apply $mul to a value of non-numeric type. "
                                          f"{{_id: {doc.get('_id')!r}}} has the field "
                                          f"'{path.rpartition('.')[2]}' of non-numeric type "
                                          f"{type(current).__name__}")
    if isinstance(current, Decimal128) or isinstance(factor, Decimal128):
        return Decimal128(_as_decimal(current) * _as_decimal(factor))
    return current * factor


def rewrite(update: dict[str, Any], doc: dict[str, Any],
            filters: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The update mongomock can apply to ``doc``: concrete paths, no ``$mul``, element unsets
    as nulls. May be empty (no element matched): then the document is matched, not modified."""
    out: dict[str, dict[str, Any]] = {}

    def put(operator: str, path: str, value: Any) -> None:
        for other in out.values():
            for other_path in other if isinstance(other, dict) else ():
                if other_path == path or other_path.startswith(path + ".") \
                        or path.startswith(other_path + "."):
                    raise CommandError(CONFLICTING_UPDATE_OPERATORS,
                                       f"Updating the path '{path}' would create a conflict at "
                                       f"'{other_path}'")
        out.setdefault(operator, {})[path] = value

    for operator, fields in update.items():
        if operator not in POSITIONAL_OPERATORS or not isinstance(fields, dict):
            out[operator] = fields
            continue
        for path, value in fields.items():
            for concrete, current in _concrete_paths(doc, path.split("."), filters, []):
                if operator == "$mul":
                    put("$set", concrete, _product(concrete, current, value, doc))
                elif operator in ("$min", "$max"):
                    wins = python_operator.lt if operator == "$min" else python_operator.gt
                    if current is _MISSING or bson_compare(wins, value, current):
                        put("$set", concrete, value)
                elif operator == "$unset" and _parent_is_array(doc, concrete):
                    if current is not _MISSING:
                        put("$set", concrete, None)
                else:
                    put(operator, concrete, value)
    return {operator: fields for operator, fields in out.items() if fields}


def upsert_seed(query: dict[str, Any]) -> dict[str, Any]:
    """The equality fields of a query: what an upserted document starts from."""
    seed: dict[str, Any] = {}
    for key, value in query.items():
        if key.startswith("$") or "." in key:
            continue
        if isinstance(value, dict) and any(k.startswith("$") for k in value):
            if "$eq" in value:
                seed[key] = value["$eq"]
            continue
        seed[key] = value
    return seed
