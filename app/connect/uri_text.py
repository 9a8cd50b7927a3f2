"""Helpers for the connection dialog's URI field, kept apart from the widgets.

- ``parse_quietly`` parses with the driver and collects its ``URIWarning`` messages
  (unknown or repeated options) instead of letting them reach stderr, so the dialog
  can show them beside the field.
- ``unknown_pairs`` finds the ``key=value`` pairs the driver ignores; the dialog keeps
  them in the text it shows (re-rendering from the parsed value would drop them).
- ``is_paste`` tells a paste (many characters inserted at once) from a keystroke, so
  the field is only rewritten when the user is not in the middle of typing.
- ``restore_masked`` puts back the real values a ``****`` in the text stands for.
- ``file_problem`` says why a TLS file option names no readable file.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

from driver.connection_string.options_table import resolve_name
from driver.connection_string.uri import ConnectionString, URIWarning, parse_uri
from driver.errors import ConfigurationError

MASK = "****"
PLACEHOLDER = re.compile(r"^<[^<>]*password[^<>]*>$", re.IGNORECASE)  # Atlas' "<password>"
_IGNORED = re.compile(r"^(unknown option '[^']*') in the connection string was ignored")


def parse_quietly(text: str) -> tuple[ConnectionString, list[str]]:
    """``parse_uri(text)`` and the driver's warnings, reworded for the dialog.

    ConfigurationError propagates as usual.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cs = parse_uri(text)
    notes: list[str] = []
    for item in caught:
        if issubclass(item.category, URIWarning):
            notes.append(_IGNORED.sub(r"\1 is ignored by the driver", str(item.message)))
        else:  # not ours to swallow: hand it back to the normal machinery
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return cs, notes


def restore_masked(cs: ConnectionString, held: ConnectionString | None) -> ConnectionString:
    """``cs`` with each ``****`` replaced by the real value ``held`` (the dialog's last
    valid value) has. A mask never becomes the literal password "****": with nothing
    held behind it, it is an error asking for the real value."""
    if cs.password == MASK:
        password = held.password if held is not None else None
        if password is None or PLACEHOLDER.match(password):
            raise ConfigurationError(
                "the password shows as **** (hidden) and there is no password behind it: "
                "re-enter the password in place of ****")
        cs = cs.replace(password=password)
    masked: dict[str, Any] = {}
    for key, value in cs.options.items():
        if "password" not in key.lower() or value != MASK:
            continue
        if held is None or key not in held.options:
            raise ConfigurationError(
                f"option {key} shows as **** (hidden) and there is no value behind it: "
                "re-enter it in place of ****")
        masked[key] = held.options[key]
    return cs.with_options(**masked) if masked else cs


def unknown_pairs(text: str) -> list[str]:
    """The raw ``key=value`` pairs of ``text``'s query that name no URI option."""
    _, question, query = text.strip().partition("?")
    if not question:
        return []
    pairs = []
    for pair in re.split(r"[&;]", query):
        key = pair.partition("=")[0]
        if not key:
            continue
        found = resolve_name(key)
        if found is None or not found[0].in_uri:
            pairs.append(pair)
    return pairs


def append_pairs(uri: str, pairs: list[str]) -> str:
    """``uri`` (as ``ConnectionString.to_uri`` writes it) with raw ``pairs`` added."""
    if not pairs:
        return uri
    extra = "&".join(pairs)
    if "?" in uri:
        return f"{uri}&{extra}"
    # to_uri writes no '/' when there is neither a database nor an option; socket
    # paths in the host list are percent-encoded, so any '/' after the scheme is the
    # database separator.
    _, _, rest = uri.partition("://")
    return f"{uri}?{extra}" if "/" in rest else f"{uri}/?{extra}"


def is_paste(before: str, after: str) -> bool:
    """Whether ``after`` differs from ``before`` by more than one inserted character.

    A keystroke inserts at most one character (possibly replacing a selection) or
    deletes; a paste, a drop or a programmatic replacement inserts several.
    """
    prefix = 0
    limit = min(len(before), len(after))
    while prefix < limit and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while (suffix < limit - prefix
           and before[len(before) - 1 - suffix] == after[len(after) - 1 - suffix]):
        suffix += 1
    return len(after) - prefix - suffix > 1


def file_problem(path: str) -> str:
    """'' when ``path`` is a readable file, else what is wrong with it (cheap checks
    on the local file system only)."""
    if not os.path.exists(path):
        where = "" if os.path.isabs(path) else f" (relative to {os.getcwd()})"
        return f"file not found: {path}{where}"
    if not os.path.isfile(path):
        return f"not a file: {path}"
    if not os.access(path, os.R_OK):
        return f"file not readable (permissions): {path}"
    return ""
