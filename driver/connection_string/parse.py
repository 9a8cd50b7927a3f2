"""Splitting a connection string into its parts, with errors that say how to fix it.

The grammar is the connection-string specification's ("connection-string-spec.md" in
mongodb/specifications)::

    mongodb[+srv]://[username[:password]@]host1[:port1][,...hostN[:portN]][/[database][?options]]

This module only cuts and percent-decodes; typing the options and the rules between
them live in ``driver.connection_string.uri``. Every error is an ``InvalidURI`` that names the part at
fault, and never contains a password: where a password is the problem, it is shown as
``****`` and the message explains the escape to use instead (``@`` → ``%40``...).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from driver.errors import InvalidURI

SCHEME = "mongodb://"
SRV_SCHEME = "mongodb+srv://"
DEFAULT_PORT = 27017
_HEX = re.compile(r"%[0-9A-Fa-f]{2}")
# "The username and password MUST be URL encoded": these may not appear raw in them.
_USERINFO_RESERVED = ":/?#[]@"
_ESCAPES = {":": "%3A", "/": "%2F", "?": "%3F", "#": "%23", "[": "%5B", "]": "%5D", "@": "%40"}
# Database names may not contain these (MongoDB's naming restrictions).
BAD_DATABASE_CHARACTERS = '/\\ "$\x00'
_BAD_HOST_CHARACTERS = set(" @?#[]\\,%\t\r\n\x00")


@dataclass(frozen=True)
class RawURI:
    """The decoded parts of a connection string, before options are typed."""

    scheme_srv: bool
    username: str | None
    password: str | None
    hosts: list[tuple[str, int | None]]
    database: str | None
    collection: str | None
    options: list[tuple[str, str]]


def reject_surrogates(text: str, part: str) -> None:
    """A lone surrogate (``\\ud800``…``\\udfff``: what Python makes of undecodable bytes,
    e.g. in ``sys.argv``) is no character, cannot be encoded and has no place in a URI:
    refuse it here, naming the part, instead of a ``UnicodeEncodeError`` later."""
    if text.isascii():
        return
    for position, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            raise InvalidURI(
                f"the {part} contains {char!r} at position {position}, a lone surrogate "
                "(undecodable bytes, not text); write the connection string in UTF-8")


def percent_decode(text: str, part: str) -> str:
    """Decode %XX escapes (as UTF-8); a stray '%' or a lone surrogate is an error naming
    ``part``."""
    reject_surrogates(text, part)
    if "%" not in text:
        return text
    pieces: list[bytes] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            if not _HEX.match(text, index):
                raise InvalidURI(
                    f"the {part} has a '%' that does not start an escape like %40; "
                    "write a literal '%' as %25"
                )
            pieces.append(bytes([int(text[index + 1 : index + 3], 16)]))
            index += 3
        else:
            pieces.append(char.encode("utf-8"))
            index += 1
    try:
        return b"".join(pieces).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidURI(f"the {part} has %-escapes that are not valid UTF-8") from None


def percent_encode(text: str, safe: str = "") -> str:
    """Escape what a URI part cannot hold raw: reserved and control characters, '%',
    and spaces; other characters (including non-ASCII letters) stay readable."""
    reserved = set(":/?#[]@!$&'()*+,;=% \"<>\\^`{|}") - set(safe)
    out = []
    reject_surrogates(text, "text")
    for char in text:
        if char in reserved or ord(char) < 0x20 or ord(char) == 0x7F:
            out.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8")))
        else:
            out.append(char)
    return "".join(out)


def _split_scheme(uri: str) -> tuple[bool, str]:
    if not isinstance(uri, str):
        raise InvalidURI(f"a connection string must be a str, not {type(uri).__name__}")
    if uri.startswith(SRV_SCHEME):
        return True, uri[len(SRV_SCHEME) :]
    if uri.startswith(SCHEME):
        return False, uri[len(SCHEME) :]
    lowered = uri.lower()
    if lowered.startswith((SCHEME, SRV_SCHEME)):
        return lowered.startswith(SRV_SCHEME), uri[uri.index("://") + 3 :]
    head = uri.split("://", 1)[0] if "://" in uri else ""
    hint = f" (found {head!r}://)" if head and len(head) < 20 and "@" not in head else ""
    raise InvalidURI(
        f"a connection string must start with mongodb:// or mongodb+srv://{hint}; "
        "e.g. mongodb://localhost:27017/"
    )


def _userinfo(text: str) -> tuple[str, str | None]:
    """Split and decode ``user[:password]``, explaining unescaped characters."""
    user_raw, has_password, password_raw = text.partition(":")
    for char in _USERINFO_RESERVED:
        if char in user_raw:
            escaped = "".join(_ESCAPES.get(c, c) for c in user_raw)
            raise InvalidURI(
                f"the user name contains an unescaped {char!r}; percent-encode it as "
                f"{_ESCAPES[char]}, e.g. {escaped!r}"
            )
        if has_password and char in password_raw:
            count = password_raw.count(char)
            raise InvalidURI(
                f"the password contains {count} unescaped {char!r}; percent-encode each "
                f"{char!r} in it as {_ESCAPES[char]} (e.g. p{char}ss -> p{_ESCAPES[char]}ss), "
                f"as in mongodb://{user_raw}:****@host/"
            )
    username = percent_decode(user_raw, "user name")
    password = percent_decode(password_raw, "password") if has_password else None
    if not username:
        raise InvalidURI("the user name before '@' is empty; write user:password@host")
    return username, password


def _port(text: str, host: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise InvalidURI(
            f"the port of host {host!r} must be a number from 1 to 65535, not {text!r}"
            + ("; write an IPv6 address in brackets, e.g. [::1]:27017" if ":" in text else "")
        )
    port = int(text)
    if not 1 <= port <= 65535:
        raise InvalidURI(f"the port of host {host!r} must be from 1 to 65535, not {port}")
    return port


def parse_host(text: str) -> tuple[str, int | None]:
    """One host of the host list: ``name[:port]``, ``[ipv6][:port]`` or an encoded
    Unix socket path; names are lower-cased, socket paths kept as written."""
    if not text:
        raise InvalidURI("the host list has an empty entry; remove the extra ','")
    if text.startswith("["):
        end = text.find("]")
        if end == -1:
            raise InvalidURI(f"the IPv6 host {text!r} has no closing ']'")
        literal = text[1:end].lower()
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise InvalidURI(f"{literal!r} in brackets is not an IPv6 address") from None
        rest = text[end + 1 :]
        if not rest:
            return literal, None
        if not rest.startswith(":"):
            raise InvalidURI(f"unexpected {rest!r} after the IPv6 host [{literal}]")
        return literal, _port(rest[1:], literal)
    decoded_whole = percent_decode(text, "host")
    if "/" in decoded_whole:
        if not decoded_whole.endswith(".sock"):
            raise InvalidURI(
                f"host {decoded_whole!r} looks like a Unix socket path but does not end in "
                "'.sock'; a host name cannot contain '/'"
            )
        return decoded_whole, None  # a Unix domain socket: no port, case kept.
    name, colon, port_text = text.partition(":")
    if colon and ":" in port_text:
        raise InvalidURI(
            f"host {text!r} has more than one ':'; write an IPv6 address in brackets "
            "(e.g. [::1]:27017) and a host as name:port"
        )
    host = percent_decode(name, "host").lower()
    if not host:
        raise InvalidURI(f"host {text!r} has no name before the ':'")
    bad = sorted(set(host) & _BAD_HOST_CHARACTERS)
    if bad:
        raise InvalidURI(f"host name {host!r} contains {bad[0]!r}, which a host name cannot hold")
    return host, (_port(port_text, host) if colon else None)


def _database(path: str) -> tuple[str | None, str | None]:
    if "@" in path:
        raise InvalidURI(
            "found '@' after the first '/': a '/' in the user name or password must be "
            "percent-encoded as %2F (and '@' as %40)"
        )
    if not path:
        return None, None
    decoded = percent_decode(path, "database name")
    database, dot, collection = decoded.partition(".")
    bad = sorted(set(database) & set(BAD_DATABASE_CHARACTERS))
    if bad:
        raise InvalidURI(
            f"the database name {database!r} contains {bad[0]!r}, which MongoDB does not "
            "allow in database names"
        )
    if not database:
        raise InvalidURI(f"the database name before '.' in {decoded!r} is empty")
    return database, (collection if dot else None)


def _query(query: str) -> list[tuple[str, str]]:
    pairs = []
    for item in query.split("&"):
        if not item:
            continue  # tolerate "?a=1&" and "?&a=1"
        key, equals, value = item.partition("=")
        if not equals:
            raise InvalidURI(
                f"option {percent_decode(key, 'option name')!r} has no value; write it as "
                f"{key}=<value>, and separate options with '&'"
            )
        if not key:
            raise InvalidURI(f"an option has no name before '=' in {item!r}")
        pairs.append((percent_decode(key, "option name"), percent_decode(value, f"{key} value")))
    return pairs


def split_uri(uri: str) -> RawURI:
    """Cut ``uri`` into its decoded parts (no option typing, no DNS)."""
    scheme_srv, rest = _split_scheme(uri)
    question = rest.find("?")
    slash = rest.find("/")
    if slash != -1 and (question == -1 or slash < question):
        authority = rest[:slash]
        path = rest[slash + 1 : question] if question != -1 else rest[slash + 1 :]
    else:
        authority = rest[:question] if question != -1 else rest
        path = ""
    query = rest[question + 1 :] if question != -1 else ""

    username = password = None
    if "@" in authority:
        userinfo, _, host_text = authority.rpartition("@")
        if "@" in userinfo:
            # Several '@': the first ones belong to the user name or the password.
            user_part, _, password_part = userinfo.partition(":")
            where = "password" if "@" in password_part else "user name"
            example = (
                f"mongodb://{user_part}:****@{host_text}"
                if where == "password"
                else f"mongodb://{user_part.replace('@', '%40')}"
                f"{':****' if password_part or ':' in userinfo else ''}@{host_text}"
            )
            raise InvalidURI(
                f"the {where} contains an unescaped '@'; percent-encode each '@' in it as "
                f"%40 (e.g. p@ss -> p%40ss), as in {example}"
            )
        username, password = _userinfo(userinfo)
    else:
        host_text = authority
    if "@" in query.partition("=")[0]:
        raise InvalidURI(
            "found '@' after '?': a '?' in the user name or password must be percent-encoded as %3F"
        )
    if not host_text:
        raise InvalidURI(
            "the connection string names no host; write e.g. mongodb://localhost:27017/"
            + (
                " (a Unix socket path must be percent-encoded: %2Ftmp%2Fmongodb.sock)"
                if path
                else ""
            )
        )
    database, collection = _database(path)
    hosts = [parse_host(item) for item in host_text.split(",")]
    return RawURI(
        scheme_srv=scheme_srv,
        username=username,
        password=password,
        hosts=hosts,
        database=database,
        collection=collection,
        options=_query(query),
    )


def parse_txt_options(text: str, record_name: str) -> list[tuple[str, str]]:
    """The ``key=value&...`` text of an SRV host's TXT record; a malformed one is an
    ``InvalidURI`` ("If any connection string option in a TXT record is incorrectly
    formatted, a Client MUST throw a parse exception")."""
    try:
        return _query(text)
    except InvalidURI as exc:
        raise InvalidURI(f"TXT record of {record_name}: {exc}") from None


__all__ = [
    "BAD_DATABASE_CHARACTERS",
    "DEFAULT_PORT",
    "RawURI",
    "parse_host",
    "parse_txt_options",
    "percent_decode",
    "percent_encode",
    "split_uri",
]
