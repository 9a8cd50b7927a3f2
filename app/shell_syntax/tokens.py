"""Tokenizer for the mongosh / Compass shell syntax (relaxed JavaScript object literals).

The tokenizer turns text into ``Token``s: punctuation (``{ } [ ] ( ) , : -  +``),
strings (double or single quoted, with JavaScript escapes), numbers, identifiers
(``$gt``, ``ObjectId``, ``new``, ``true``) and regular expression literals
(``/^abc/i``). ``//`` and ``/* */`` comments and whitespace are skipped.

The grammar we parse has no division operator, so a ``/`` that does not start a comment
always starts a regular expression literal; no parser feedback is needed.

Every error is a ``ShellSyntaxError`` carrying the 1-based line and column of the
offending character, so the query bar can point at it.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from enum import Enum

PUNCTUATION = frozenset("{}[](),:-+")
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$")
_IDENT_PART = _IDENT_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# JavaScript line terminators: a raw one ends a string or regex literal in error.
_LINE_TERMINATORS = frozenset("\n\r\u2028\u2029")
_WHITESPACE = frozenset(" \t\n\r\u000b\u000c\u00a0\ufeff\u2028\u2029")
_SIMPLE_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "0": "\0",
}


class ShellSyntaxError(ValueError):
    """Text that is not valid shell syntax; ``line`` and ``column`` are 1-based."""

    def __init__(self, message: str, line: int, column: int, offset: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column
        self.offset = offset


class TokenKind(Enum):
    PUNCT = "punctuation"
    STRING = "string"
    NUMBER = "number"
    IDENT = "identifier"
    REGEX = "regular expression"
    END = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # the source text (for PUNCT/IDENT/NUMBER) or the decoded string value
    offset: int
    line: int
    column: int
    flags: str = ""  # regex flags

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind is TokenKind.END:
            return "end of input"
        if self.kind is TokenKind.STRING:
            shown = self.text if len(self.text) <= 20 else self.text[:17] + "..."
            return f"string {shown!r}"
        if self.kind is TokenKind.REGEX:
            return "a regular expression"
        return repr(self.text)


_LINE_BREAK = re.compile("\r\n|[\n\r\u2028\u2029]")


def line_starts(text: str) -> list[int]:
    """Offsets where each line of ``text`` begins (``\\r\\n`` counts as one break)."""
    return [0] + [match.end() for match in _LINE_BREAK.finditer(text)]


def position_of(text: str, offset: int, starts: list[int] | None = None) -> tuple[int, int]:
    """1-based (line, column) of ``offset`` in ``text``."""
    starts = line_starts(text) if starts is None else starts
    line = bisect.bisect_right(starts, offset)
    return line, offset - starts[line - 1] + 1


class Tokenizer:
    """Splits ``text`` into tokens; ``tokens()`` returns all of them, ending with END."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"shell text must be str, not {type(text).__name__}")
        self.text = text
        self.pos = 0
        # Computed once, so each token's position is a binary search, not a rescan.
        self._starts = line_starts(text)

    # -- errors ------------------------------------------------------------------
    def error(self, message: str, offset: int | None = None) -> ShellSyntaxError:
        where = self.pos if offset is None else offset
        line, column = position_of(self.text, where, self._starts)
        return ShellSyntaxError(message, line, column, where)

    # -- driving -----------------------------------------------------------------
    def tokens(self) -> list[Token]:
        result: list[Token] = []
        while True:
            token = self.next_token()
            result.append(token)
            if token.kind is TokenKind.END:
                return result

    def _make(self, kind: TokenKind, text: str, start: int, flags: str = "") -> Token:
        line, column = position_of(self.text, start, self._starts)
        return Token(kind, text, start, line, column, flags)

    def next_token(self) -> Token:
        self._skip_blanks_and_comments()
        text = self.text
        start = self.pos
        if start >= len(text):
            return self._make(TokenKind.END, "", start)
        char = text[start]
        if char in PUNCTUATION:
            self.pos += 1
            return self._make(TokenKind.PUNCT, char, start)
        if char in "\"'":
            return self._make(TokenKind.STRING, self._read_string(char), start)
        if char in _DIGITS or (char == "." and text[start + 1 : start + 2] in _DIGITS):
            return self._make(TokenKind.NUMBER, self._read_number(), start)
        if char in _IDENT_START:
            end = start + 1
            while end < len(text) and text[end] in _IDENT_PART:
                end += 1
            self.pos = end
            return self._make(TokenKind.IDENT, text[start:end], start)
        if char == "/":
            pattern, flags = self._read_regex()
            return self._make(TokenKind.REGEX, pattern, start, flags)
        if char == ".":
            raise self.error(
                "unexpected '.': quote keys that contain dots, as in \"a.b\": 1", start
            )
        raise self.error(f"unexpected character {char!r}", start)

    # -- pieces ------------------------------------------------------------------
    def _skip_blanks_and_comments(self) -> None:
        text = self.text
        length = len(text)
        pos = self.pos
        while pos < length:
            char = text[pos]
            if char in _WHITESPACE:
                pos += 1
            elif text.startswith("//", pos):
                while pos < length and text[pos] not in _LINE_TERMINATORS:
                    pos += 1
            elif text.startswith("/*", pos):
                end = text.find("*/", pos + 2)
                if end < 0:
                    raise self.error("unterminated /* comment: expected '*/'", pos)
                pos = end + 2
            else:
                break
        self.pos = pos

    def _read_string(self, quote: str) -> str:
        text = self.text
        start = self.pos
        pos = start + 1
        parts: list[str] = []
        while True:
            if pos >= len(text):
                raise self.error(f"unterminated string: expected a closing {quote}", start)
            char = text[pos]
            if char == quote:
                self.pos = pos + 1
                return "".join(parts)
            if char in "\n\r":
                raise self.error(
                    f"unterminated string: expected a closing {quote} before the line end", start
                )
            if char != "\\":
                # Copy the run up to the next quote or backslash in one slice.
                run_end = pos + 1
                while run_end < len(text) and text[run_end] not in ("\\", quote, "\n", "\r"):
                    run_end += 1
                parts.append(text[pos:run_end])
                pos = run_end
                continue
            pos = self._read_escape(pos, parts)

    def _read_escape(self, pos: int, parts: list[str]) -> int:
        """Decode the escape at ``text[pos] == '\\'``; returns the position after it."""
        text = self.text
        if pos + 1 >= len(text):
            raise self.error("unterminated escape sequence at the end of input", pos)
        code = text[pos + 1]
        if code in _SIMPLE_ESCAPES and not (code == "0" and text[pos + 2 : pos + 3] in _DIGITS):
            parts.append(_SIMPLE_ESCAPES[code])
            return pos + 2
        if code == "x":
            digits = text[pos + 2 : pos + 4]
            if len(digits) != 2 or not set(digits) <= _HEX_DIGITS:
                raise self.error("bad \\x escape: expected two hex digits", pos)
            parts.append(chr(int(digits, 16)))
            return pos + 4
        if code == "u":
            return self._read_unicode_escape(pos, parts)
        if code in _DIGITS:
            raise self.error("octal escapes are not allowed; use \\x or \\u", pos)
        if code == "\r" and text[pos + 2 : pos + 3] == "\n":
            return pos + 3  # line continuation
        if code in _LINE_TERMINATORS:
            return pos + 2  # line continuation
        parts.append(code)  # \" \' \\ \/ and JavaScript's identity escapes
        return pos + 2

    def _read_unicode_escape(self, pos: int, parts: list[str]) -> int:
        text = self.text
        if text[pos + 2 : pos + 3] == "{":
            close = text.find("}", pos + 3)
            digits = text[pos + 3 : close] if close > 0 else ""
            if not digits or len(digits) > 6 or not set(digits) <= _HEX_DIGITS:
                raise self.error("bad \\u{...} escape: expected 1 to 6 hex digits", pos)
            value = int(digits, 16)
            if value > 0x10FFFF:
                raise self.error("bad \\u{...} escape: beyond U+10FFFF", pos)
            parts.append(chr(value))
            return close + 1
        digits = text[pos + 2 : pos + 6]
        if len(digits) != 4 or not set(digits) <= _HEX_DIGITS:
            raise self.error("bad \\u escape: expected four hex digits", pos)
        value = int(digits, 16)
        end = pos + 6
        # A surrogate pair written as two escapes is one character, as in JavaScript.
        if 0xD800 <= value <= 0xDBFF and text[end : end + 2] == "\\u":
            low_digits = text[end + 2 : end + 6]
            if len(low_digits) == 4 and set(low_digits) <= _HEX_DIGITS:
                low = int(low_digits, 16)
                if 0xDC00 <= low <= 0xDFFF:
                    parts.append(chr(0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)))
                    return end + 6
        if 0xD800 <= value <= 0xDFFF:
            raise self.error("a lone surrogate \\u escape cannot be stored as UTF-8", pos)
        parts.append(chr(value))
        return end

    def _read_number(self) -> str:
        text = self.text
        start = self.pos
        pos = start
        if text.startswith(("0x", "0X"), pos):
            pos += 2
            while pos < len(text) and text[pos] in _HEX_DIGITS:
                pos += 1
            if pos == start + 2:
                raise self.error("bad hex number: expected hex digits after 0x", start)
        else:
            while pos < len(text) and text[pos] in _DIGITS:
                pos += 1
            if pos < len(text) and text[pos] == ".":
                pos += 1
                while pos < len(text) and text[pos] in _DIGITS:
                    pos += 1
            if pos < len(text) and text[pos] in "eE":
                exponent_start = pos
                pos += 1
                if pos < len(text) and text[pos] in "+-":
                    pos += 1
                if pos >= len(text) or text[pos] not in _DIGITS:
                    raise self.error("bad number: expected digits in the exponent", exponent_start)
                while pos < len(text) and text[pos] in _DIGITS:
                    pos += 1
        if pos < len(text) and text[pos] in _IDENT_PART:
            raise self.error(f"bad number: unexpected {text[pos]!r} after the digits", pos)
        self.pos = pos
        return text[start:pos]

    def _read_regex(self) -> tuple[str, str]:
        """A ``/pattern/flags`` literal; ``/`` inside ``[...]`` does not end it (as in JS)."""
        text = self.text
        start = self.pos
        pos = start + 1
        in_class = False
        while True:
            if pos >= len(text) or text[pos] in _LINE_TERMINATORS:
                raise self.error("unterminated regular expression: expected a closing /", start)
            char = text[pos]
            if char == "\\":
                if pos + 1 >= len(text) or text[pos + 1] in _LINE_TERMINATORS:
                    raise self.error("unterminated regular expression: expected a closing /", start)
                pos += 2
                continue
            if char == "[":
                in_class = True
            elif char == "]":
                in_class = False
            elif char == "/" and not in_class:
                break
            pos += 1
        pattern = text[start + 1 : pos]
        pos += 1
        flags_start = pos
        while pos < len(text) and text[pos] in _IDENT_PART:
            pos += 1
        self.pos = pos
        return pattern, text[flags_start:pos]


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text``, the last one of kind END; raises ``ShellSyntaxError``."""
    return Tokenizer(text).tokens()
