"""Fuzzing: mutated valid BSON (truncated, bit-flipped, spliced, grown) never raises
anything but ``InvalidBSON``, and never hangs.

The seeds are every valid document of the BSON corpus plus generated documents. Each
mutant goes through ``decode``, ``decode_all``, ``RawBSONDocument`` (fully inflated,
nested raw documents too) and, when it decodes, back through ``encode``.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driver.bson import (
    DEFAULT_RAW_BSON_OPTIONS,
    CodecOptions,
    RawBSONDocument,
    UuidRepresentation,
    decode,
    decode_all,
    encode,
)
from driver.errors import InvalidBSON
from tests.bson.test_properties import documents
from tests.specdata import load, spec_files

_VARIANT_OPTIONS = CodecOptions(tz_aware=True, uuid_representation=UuidRepresentation.JAVA_LEGACY)


def _corpus_seeds() -> list[bytes]:
    seeds = []
    for path in spec_files("bson-corpus"):
        suite = load(path)
        for case in suite.get("valid", []):
            seeds.append(bytes.fromhex(case["canonical_bson"]))
            if "degenerate_bson" in case:
                seeds.append(bytes.fromhex(case["degenerate_bson"]))
    return seeds


CORPUS_SEEDS = _corpus_seeds()


def _inflate(value: Any) -> None:
    """Touch every nested value of a raw document (each raw level decodes on access)."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, RawBSONDocument):
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)


def _only_invalid_bson(data: bytes) -> None:
    """Every decoding entry point either succeeds or raises InvalidBSON."""
    try:
        document = decode(data)
    except InvalidBSON as exc:
        assert exc.offset is not None
    else:
        encode(document)
    try:
        decode(data, _VARIANT_OPTIONS)
    except InvalidBSON:
        pass
    try:
        decode_all(data)
    except InvalidBSON:
        pass
    try:
        raw = RawBSONDocument(data)
        _inflate(raw)
        for document in decode_all(data, DEFAULT_RAW_BSON_OPTIONS):
            _inflate(document)
    except InvalidBSON:
        pass


def _mutate(rng: random.Random, data: bytes, other: bytes) -> bytes:
    buffer = bytearray(data)
    operation = rng.randrange(6)
    if operation == 0 and buffer:  # truncate
        del buffer[rng.randrange(len(buffer)) :]
    elif operation == 1 and buffer:  # flip bits of a few bytes
        for _ in range(rng.randint(1, 3)):
            buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
    elif operation == 2 and buffer:  # overwrite a byte with an interesting value
        buffer[rng.randrange(len(buffer))] = rng.choice([0x00, 0x01, 0x7F, 0x80, 0xFF])
    elif operation == 3:  # splice a slice of another document in
        start = rng.randrange(len(buffer) + 1)
        piece_start = rng.randrange(len(other) + 1)
        piece = other[piece_start : piece_start + rng.randint(1, 16)]
        buffer[start : start + rng.randint(0, 8)] = piece
    elif operation == 4 and len(buffer) >= 4:  # rewrite a 32-bit length somewhere
        start = rng.randrange(len(buffer) - 3)
        value = rng.choice([-1, 0, 1, 4, 5, 0x7FFFFFFF, -(2**31), len(buffer), len(buffer) + 1])
        buffer[start : start + 4] = value.to_bytes(4, "little", signed=True)
    else:  # insert random bytes
        start = rng.randrange(len(buffer) + 1)
        buffer[start:start] = rng.randbytes(rng.randint(1, 8))
    return bytes(buffer)


@pytest.mark.parametrize("seed", range(4))
def test_mutated_corpus_documents(seed: int) -> None:
    if not CORPUS_SEEDS:
        pytest.skip("bson-corpus data not found; the generated-document fuzz still runs")
    rng = random.Random(seed)
    for _ in range(20000):
        data = rng.choice(CORPUS_SEEDS)
        for _ in range(rng.randint(1, 3)):
            data = _mutate(rng, data, rng.choice(CORPUS_SEEDS))
        _only_invalid_bson(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.randoms(use_true_random=False), st.integers(1, 4))
def test_mutated_generated_documents(document: dict[str, Any], rng: Any, rounds: int) -> None:
    data = encode(document)
    for _ in range(rounds):
        data = _mutate(rng, data, data)
    _only_invalid_bson(data)


@given(st.binary(max_size=64))
@settings(max_examples=300, deadline=None)
def test_random_bytes(data: bytes) -> None:
    _only_invalid_bson(data)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    # Valid BSON nested 100,000 levels deep ({"a": {"a": ...}}): far deeper than the
    # interpreter's stack, so it must be refused cleanly.
    depth = 100_000
    sizes = [5 + 8 * level for level in range(1, depth + 1)]
    data = (
        b"".join(size.to_bytes(4, "little") + b"\x03a\x00" for size in reversed(sizes))
        + b"\x05\x00\x00\x00\x00"
        + b"\x00" * depth
    )
    with pytest.raises(InvalidBSON, match="nested too deeply"):
        decode(data)
