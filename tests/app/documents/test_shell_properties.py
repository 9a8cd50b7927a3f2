"""Property tests: the tokenizer and parser never fail but with ShellSyntaxError, and
writing a value in shell syntax then parsing it gives back the same BSON."""

from __future__ import annotations

import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.shell_syntax.format import to_shell
from app.shell_syntax.parser import _WRAPPER_KEYS, ShellSyntaxError, parse
from app.shell_syntax.tokens import TokenKind, position_of, tokenize
from driver.bson import (
    Binary,
    Code,
    Decimal128,
    Int64,
    MaxKey,
    MinKey,
    ObjectId,
    Regex,
    Timestamp,
    encode,
)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text biased towards the characters the grammar cares about, so the fuzzing gets deep.
SHELL_ALPHABET = st.sampled_from(
    list("{}[]():,-+.'\"/\\*$_ \n\r\t0123456789eExabcnuITN")
    + ["\u2028", "é", "\x00", "ObjectId(", "new ", "//", "/*", "*/"]
)
shell_like_text = st.lists(SHELL_ALPHABET, max_size=60).map("".join)


@FAST
@given(st.one_of(st.text(max_size=80), shell_like_text))
def test_random_text_only_raises_shell_syntax_error(text):
    try:
        tokens = tokenize(text)
    except ShellSyntaxError as error:
        assert 1 <= error.line and 1 <= error.column
        assert 0 <= error.offset <= len(text)
    else:
        assert tokens[-1].kind is TokenKind.END
        offsets = [token.offset for token in tokens]
        assert offsets == sorted(offsets)
    try:
        parse(text)
    except ShellSyntaxError as error:
        assert (error.line, error.column) == position_of(text, error.offset)


# A key spelled like an Extended JSON wrapper ("$oid") would turn its document into that
# type, in mongosh as here, so generated documents avoid exactly those names.
keys = st.text(
    st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=8
).filter(lambda key: key not in _WRAPPER_KEYS)
strings = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
datetimes = st.datetimes(
    min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31, 23, 59, 59)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))
regex_patterns = st.text(
    st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=10
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(Int64),
    st.floats(allow_nan=False),
    strings,
    st.binary(min_size=12, max_size=12).map(ObjectId),
    datetimes,
    st.decimals(min_value=-(10**20), max_value=10**20, places=6).map(lambda d: Decimal128(str(d))),
    st.sampled_from(["NaN", "-Infinity", "-0", "1E+6144", "1E-6176"]).map(Decimal128),
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)).map(lambda ti: Timestamp(*ti)),
    st.tuples(st.binary(max_size=20), st.integers(0, 255)).map(lambda bs: Binary(*bs)),
    st.tuples(regex_patterns, st.sampled_from(["", "i", "ims", "mx", "l", "u"])).map(
        lambda pf: Regex(*pf)
    ),
    st.just(MinKey()),
    st.just(MaxKey()),
    strings.map(Code),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=12,
)


@FAST
@given(values, st.sampled_from([None, 2]))
def test_printed_values_parse_back_to_the_same_bson(value, indent):
    text = to_shell(value, indent=indent)
    parsed = parse(text)
    assert encode({"v": parsed}) == encode({"v": value}), text
