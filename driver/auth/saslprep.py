"""SASLprep (RFC 4013), the stringprep profile SCRAM-SHA-256 applies to passwords.

Built on the standard library's :mod:`stringprep` tables. The auth spec: for
SCRAM-SHA-256 "Passwords MUST be prepared with SASLprep, per RFC 5802"; user names
MUST NOT be (and SCRAM-SHA-1 prepares nothing, its password being an MD5 digest).
"""

from __future__ import annotations

import stringprep
import unicodedata
from collections.abc import Callable

# RFC 4013 section 2.3: the prohibited output tables (beyond unassigned code points).
_PROHIBITED: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("non-ASCII space", stringprep.in_table_c12),
    ("ASCII control character", stringprep.in_table_c21),
    ("non-ASCII control character", stringprep.in_table_c22),
    ("private use character", stringprep.in_table_c3),
    ("non-character code point", stringprep.in_table_c4),
    ("surrogate code point", stringprep.in_table_c5),
    ("character inappropriate for plain text", stringprep.in_table_c6),
    ("character inappropriate for canonical representation", stringprep.in_table_c7),
    ("change display property or deprecated character", stringprep.in_table_c8),
    ("tagging character", stringprep.in_table_c9),
)


def saslprep(text: str, *, allow_unassigned: bool = False) -> str:
    """``text`` prepared with SASLprep; ``ValueError`` naming the offending character.

    ``allow_unassigned`` selects the RFC 3454 "query" behaviour; stored strings (what
    a password is compared against) use the default, which refuses them.
    """
    if not isinstance(text, str):
        raise TypeError(f"SASLprep needs a str, not {type(text).__name__}")
    # 2.1 Mapping: non-ASCII spaces become SPACE, "commonly mapped to nothing" vanish.
    mapped = "".join(
        " " if stringprep.in_table_c12(char) else char
        for char in text
        if not stringprep.in_table_b1(char)
    )
    # 2.2 Normalization: Unicode form KC.
    normalized = unicodedata.normalize("NFKC", mapped)
    if not normalized:
        return ""
    # 2.3 Prohibited output, plus unassigned code points (RFC 3454 section 7).
    for position, char in enumerate(normalized):
        for description, in_table in _PROHIBITED:
            if in_table(char):
                raise ValueError(
                    f"SASLprep: {description} U+{ord(char):04X} at position {position} "
                    "is not allowed"
                )
        if not allow_unassigned and stringprep.in_table_a1(char):
            raise ValueError(
                f"SASLprep: unassigned code point U+{ord(char):04X} at position {position}"
            )
    # 2.4 Bidirectional characters (RFC 3454 section 6).
    has_rand_al = any(stringprep.in_table_d1(char) for char in normalized)
    if has_rand_al:
        if any(stringprep.in_table_d2(char) for char in normalized):
            raise ValueError("SASLprep: string mixes right-to-left and left-to-right characters")
        if not (
            stringprep.in_table_d1(normalized[0]) and stringprep.in_table_d1(normalized[-1])
        ):
            raise ValueError(
                "SASLprep: a string with right-to-left characters must start and end with one"
            )
    return normalized
