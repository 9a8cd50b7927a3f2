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
- ``edit_text`` changes the user's own text only where a new value differs (their
  option names, case and order stay); ``mask_text`` hides its passwords for display.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

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


# -- editing the user's own text ---------------------------------------------------------
# The URI field shows the string as the user gave it: their option names, spelling,
# case and order. A form edit changes only the part it concerns, written the way
# ``ConnectionString.to_uri`` writes that part.
@dataclass
class UriPieces:
    """A connection string cut into its raw (still percent-encoded) pieces.

    ``rest`` is the path (``/db``, ``/`` or ``''``), ``pairs`` the ``key=value`` items of
    the query in order; ``has_query`` tells ``...?`` with no pairs from no ``?`` at all.
    """

    scheme: str
    userinfo: str | None
    hosts: str
    path: str
    pairs: list[str]
    has_query: bool

    @classmethod
    def split(cls, text: str) -> UriPieces:
        scheme, sep, after = text.partition("://")
        if not sep:
            return cls("", None, text, "", [], False)
        question = after.find("?")
        slash = after.find("/")
        if slash != -1 and (question == -1 or slash < question):
            authority, path = after[:slash], after[slash:question if question != -1 else None]
        else:
            authority, path = after[:question] if question != -1 else after, ""
        query = after[question + 1:] if question != -1 else ""
        userinfo, at, hosts = authority.rpartition("@")
        return cls(scheme + sep, userinfo if at else None, hosts if at else authority, path,
                   [pair for pair in query.split("&") if pair], question != -1)

    def join(self) -> str:
        text = self.scheme + (f"{self.userinfo}@" if self.userinfo is not None else "")
        text += self.hosts
        path = self.path
        if self.pairs and not path:
            path = "/"  # the driver writes the '/' before '?'; keep that form
        text += path
        if self.pairs:
            text += "?" + "&".join(self.pairs)
        elif self.has_query:
            text += "?"
        return text

    def user_and_password(self) -> tuple[str | None, str | None]:
        """The raw user name and password pieces (None when absent)."""
        if self.userinfo is None:
            return None, None
        user, colon, password = self.userinfo.partition(":")
        return user, (password if colon else None)


def _canonical(key: str) -> tuple[str, bool] | None:
    """The option a raw key names (lower-case canonical) and whether the key may be kept
    as spelled for a new value (an alias that converts its value may not)."""
    found = resolve_name(unquote(key))
    if found is None or not found[0].in_uri:
        return None
    spec, alias = found
    return spec.name.lower(), alias is None or alias.convert is None


def _options_by_name(cs: ConnectionString) -> dict[str, Any]:
    return {name.lower(): value for name, value in cs.options.items()}


def edit_text(text: str, after: ConnectionString) -> str:
    """``text`` changed only where its value differs from ``after``.

    Each differing part (scheme, user, password, hosts, database, one option) is
    rewritten the way ``after.to_uri()`` writes it; an option keeps the key the user
    spelled; a removed option is dropped, a new one appended; every other character,
    unknown options included, stays as it was. If ``text`` does not parse, the result
    is ``after.to_uri()`` with ``text``'s unknown pairs appended.
    """
    text = text.strip()
    try:
        before, _ = parse_quietly(text)
    except ConfigurationError:
        return append_pairs(after.to_uri(), unknown_pairs(text))
    if before == after:
        return text
    mine, theirs = UriPieces.split(text), UriPieces.split(after.to_uri())
    if before.scheme_srv != after.scheme_srv:
        mine.scheme = theirs.scheme
    _edit_userinfo(mine, theirs, before, after)
    if before.hosts != after.hosts:
        mine.hosts = theirs.hosts
    if (before.database, before.collection) != (after.database, after.collection):
        mine.path = theirs.path if theirs.path or not mine.path else "/"
    _edit_pairs(mine, theirs, before, after)
    return mine.join()


def _edit_userinfo(mine: UriPieces, theirs: UriPieces, before: ConnectionString,
                   after: ConnectionString) -> None:
    if (before.username, before.password) == (after.username, after.password):
        return
    if after.username is None:
        mine.userinfo = None
        return
    user, password = mine.user_and_password()
    new_user, new_password = theirs.user_and_password()
    if before.username != after.username or user is None:
        user = new_user
    if before.password != after.password:
        password = new_password
    mine.userinfo = user if password is None else f"{user}:{password}"


def _edit_pairs(mine: UriPieces, theirs: UriPieces, before: ConnectionString,
                after: ConnectionString) -> None:
    old, new = _options_by_name(before), _options_by_name(after)
    written: dict[str, list[str]] = {}  # option -> its pairs as to_uri writes them
    for pair in theirs.pairs:
        written.setdefault(pair.partition("=")[0].lower(), []).append(pair)
    pairs: list[str] = []
    done: set[str] = set()
    for pair in mine.pairs:
        key = pair.partition("=")[0]
        found = _canonical(key)
        if found is None:  # unknown to the driver: the user's text, kept
            pairs.append(pair)
            continue
        name, keep_key = found
        if name not in new or name in done:
            continue  # removed, or a repeat of an option already rewritten below
        if old.get(name) == new[name] and name in old:
            pairs.append(pair)
            continue
        # Changed: the new value where the option was, under the user's key; an option
        # written several times (readPreferenceTags) becomes its new list of pairs.
        done.add(name)
        for item in written.get(name, []):
            value = item.partition("=")[2]
            pairs.append(f"{key}={value}" if keep_key else item)
    seen = {found[0] for pair in mine.pairs if (found := _canonical(pair.partition("=")[0]))}
    for name, items in written.items():
        if name not in seen:
            pairs.extend(items)
    mine.pairs = pairs


def mask_text(text: str) -> str:
    """``text`` with the password and every password option's value shown as ``****``.

    An Atlas-style ``<password>`` placeholder is no secret: it is shown, unescaped."""
    pieces = UriPieces.split(text)
    user, password = pieces.user_and_password()
    if password is not None:
        shown = unquote(password)
        pieces.userinfo = f"{user}:{shown if PLACEHOLDER.match(shown) else MASK}"
    masked = []
    for pair in pieces.pairs:
        key, equals, _ = pair.partition("=")
        found = _canonical(key)
        secret = "password" in key.lower() or (found is not None and "password" in found[0])
        masked.append(f"{key}={MASK}" if secret and equals else pair)
    pieces.pairs = masked
    return pieces.join()
