"""Conflict-safe document edits: change only what the user changed, and only if nobody
else changed it meanwhile.

``plan_edit(original, edited)`` compares the two versions field by field (as BSON, so
``1`` and ``1.0`` differ and a date stays a date unless its type was changed on
purpose) and builds:

- ``filter``: ``_id`` **and** the original value of every changed field (a field the
  user added must still be absent: ``{"$exists": false}``), so the write matches nothing
  if someone else changed one of those fields in the meantime;
- ``update``: ``{"$set": ..., "$unset": ...}`` on dotted paths into embedded documents,
  or, when a changed name contains ``.`` or starts with ``$`` (which update paths cannot
  address), a whole ``replacement`` for ``find_one_and_replace``.

``apply_edit(plan, update_one=..., replace_one=..., find_one=...)`` runs it through
injected callables and returns ``EditOutcome``: applied, or a conflict carrying the
current version from the server (``None`` when the document was deleted) so the user
sees both versions and chooses; ``plan.overwrite()`` is the "keep mine" choice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from driver.bson import RawBSONDocument, encode

_MISSING = object()


class EditError(ValueError):
    """An edit that cannot be applied as asked (for example a changed ``_id``)."""


def _same(left: Any, right: Any) -> bool:
    """BSON equality: same type and same bytes (``1`` is not ``1.0``, order counts)."""
    if left is _MISSING or right is _MISSING:
        return left is right
    return encode({"v": left}) == encode({"v": right})


def _as_dict(document: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(document, RawBSONDocument):
        return {key: _plain(value) for key, value in document.items()}
    return dict(document)


def _plain(value: Any) -> Any:
    if isinstance(value, RawBSONDocument):
        return _as_dict(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _awkward(name: str) -> bool:
    return "." in name or name.startswith("$") or name == ""


@dataclass(frozen=True)
class Changes:
    set: dict[str, Any] = field(default_factory=dict)  # dotted path -> new value
    unset: list[str] = field(default_factory=list)
    originals: dict[str, Any] = field(default_factory=dict)  # path -> old value or _MISSING
    awkward: list[str] = field(default_factory=list)  # changed names paths cannot address

    @property
    def paths(self) -> list[str]:
        return [*self.set, *self.unset]


def diff_documents(original: Mapping[str, Any], edited: Mapping[str, Any]) -> Changes:
    """What changed from ``original`` to ``edited``, as dotted paths (embedded documents
    are compared field by field; arrays and other values as a whole)."""
    changes = Changes()
    _diff(_as_dict(original), _as_dict(edited), "", changes)
    return changes


def _diff(before: dict[str, Any], after: dict[str, Any], prefix: str, out: Changes) -> None:
    for key, new_value in after.items():
        path = prefix + key
        old_value = before.get(key, _MISSING)
        if _same(old_value, new_value):
            continue
        if _awkward(key):
            out.awkward.append(path)
        if (
            isinstance(old_value, dict)
            and isinstance(new_value, dict)
            and old_value
            and not _awkward(key)
        ):
            _diff(old_value, new_value, path + ".", out)
            continue
        out.set[path] = new_value
        out.originals[path] = old_value
    for key, old_value in before.items():
        if key not in after:
            if _awkward(key):
                out.awkward.append(prefix + key)
            out.unset.append(prefix + key)
            out.originals[prefix + key] = old_value


def _condition(original: Any) -> Any:
    """A filter condition that holds only while the field still has ``original``."""
    if original is _MISSING:
        return {"$exists": False}
    if original is None:
        return {"$exists": True, "$eq": None}  # plain null would also match a missing field
    if isinstance(original, list):
        # Equality on an array field also matches arrays containing the value;
        # ``$size`` plus ``$eq`` on the whole array pins the exact array.
        return {"$size": len(original), "$eq": original}
    if isinstance(original, dict):
        return {"$eq": original}  # exact embedded document, field order included
    return original


@dataclass(frozen=True)
class EditPlan:
    document_id: Any
    filter: dict[str, Any]
    update: dict[str, Any] | None  # for update_one
    replacement: dict[str, Any] | None  # for find_one_and_replace
    changed: list[str]

    @property
    def is_empty(self) -> bool:
        return not self.changed

    def overwrite(self) -> EditPlan:
        """The same change matched on ``_id`` only: "keep my version" after a conflict."""
        return replace(self, filter={"_id": self.document_id})


def plan_edit(original: Mapping[str, Any], edited: Mapping[str, Any]) -> EditPlan:
    before = _as_dict(original)
    after = _as_dict(edited)
    if "_id" not in before:
        raise EditError("the original document has no _id, so it cannot be matched safely")
    if "_id" not in after:
        after = {"_id": before["_id"], **after}
    if not _same(before["_id"], after["_id"]):
        raise EditError("_id cannot be changed; clone the document instead")
    changes = diff_documents(before, after)
    conditions: dict[str, Any] = {"_id": before["_id"]}
    for path in changes.paths:
        conditions[path] = _condition(changes.originals[path])
    if changes.awkward:
        # Update paths cannot name these fields: replace the whole document, guarded on
        # the changed top-level fields whose names a filter can address, and on all of
        # the document's other fields when a changed name cannot be addressed at all.
        guard_names = {path.split(".")[0] for path in changes.paths if path not in changes.awkward}
        conditions = {"_id": before["_id"]}
        for name in sorted(guard_names):
            if not _awkward(name):
                conditions[name] = _condition(before.get(name, _MISSING))
        changed_top = sorted({path.split(".")[0] for path in changes.paths} | set(changes.awkward))
        return EditPlan(before["_id"], conditions, None, after, changed_top)
    update: dict[str, Any] = {}
    if changes.set:
        update["$set"] = dict(changes.set)
    if changes.unset:
        update["$unset"] = {path: "" for path in changes.unset}
    return EditPlan(before["_id"], conditions, update or None, None, changes.paths)


@dataclass(frozen=True)
class EditOutcome:
    applied: bool
    conflict: bool = False
    current: dict[str, Any] | None = None  # the server's version after a conflict
    deleted: bool = False


def apply_edit(
    plan: EditPlan,
    *,
    update_one: Callable[[dict[str, Any], dict[str, Any]], int],
    replace_one: Callable[[dict[str, Any], dict[str, Any]], bool],
    find_one: Callable[[dict[str, Any]], Mapping[str, Any] | None],
) -> EditOutcome:
    """Apply ``plan``: ``update_one(filter, update) -> matched count``,
    ``replace_one(filter, replacement) -> matched?`` (``find_one_and_replace`` is not
    None), ``find_one(filter)`` to fetch the current version after a conflict."""
    if plan.is_empty:
        return EditOutcome(applied=True)
    if plan.update is not None:
        matched = update_one(plan.filter, plan.update) > 0
    else:
        assert plan.replacement is not None
        matched = replace_one(plan.filter, plan.replacement)
    if matched:
        return EditOutcome(applied=True)
    current = find_one({"_id": plan.document_id})
    if current is None:
        return EditOutcome(applied=False, conflict=True, deleted=True)
    return EditOutcome(applied=False, conflict=True, current=_as_dict(current))
