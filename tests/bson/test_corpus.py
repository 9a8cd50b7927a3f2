"""The BSON corpus (mongodb/specifications ``bson-corpus``): every case, none skipped.

For each ``valid`` case (the corpus README's checks; cB = canonical_bson, cEJ =
canonical_extjson, rEJ = relaxed_extjson, dB/dEJ = the degenerate forms):

* encode(decode(cB)) == cB, and dumps(decode(cB)) gives cEJ (and rEJ in relaxed mode);
* encode(loads(cEJ)) == cB unless ``lossy``;
* dB and dEJ normalise to cB / cEJ, and rEJ survives loads → dumps.

Extended JSON is compared after parsing both sides with key order kept (the README:
"compare as parsed JSON"), with the number types kept apart (``1`` is not ``1.0``).

The deprecated types (DBPointer, symbol, undefined) decode to ``DBPointer``,
``Symbol`` and ``Undefined``, which re-encode to the same type, so their files are
checked with the same rules; ``converted_bson``/``converted_extjson`` describe an
optional down-conversion we do not perform and are not compared.

``decodeErrors``: decode must raise ``InvalidBSON``. ``parseErrors``: for bson_type
0x13 ``Decimal128(string)`` must raise ``ValueError``; for the others turning the
Extended JSON into BSON (``loads`` then ``encode``) must fail with ``ValueError`` or
``InvalidDocument``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from driver.bson import Decimal128, decode, encode, json_util
from driver.errors import InvalidBSON, InvalidDocument
from tests.specdata import load, missing, params_or_missing, spec_files

SUITE = "bson-corpus"
pytestmark = pytest.mark.spec


def _cases(kind: str) -> list[Any]:
    params = []
    for path in spec_files(SUITE):
        suite = load(path)
        for index, case in enumerate(suite.get(kind, [])):
            case_id = f"{path.stem}:{index}:{case['description']}"
            params.append(pytest.param(path, suite, case, id=case_id))
    return params_or_missing(params, width=3)  # (path, suite, case)


def _typed(value: Any) -> Any:
    """JSON values with their JSON type attached, so 1 and 1.0 and true differ."""
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return ("object", [(key, _typed(item)) for key, item in value])
    if isinstance(value, list):
        return ("array", [_typed(item) for item in value])
    return (type(value).__name__, value)


def _parse_json(text: str) -> Any:
    # Objects become lists of pairs, so both the key order and duplicates count.
    return _typed(json.loads(text, object_pairs_hook=lambda pairs: pairs or [("", "{}")]))


def _assert_json(actual: str, expected: str) -> None:
    assert _parse_json(actual) == _parse_json(expected), (
        f"\n got      {actual}\n expected {expected}"
    )


def _canonical(value: Any) -> str:
    return json_util.dumps(value, mode="canonical")


def _relaxed(value: Any) -> str:
    return json_util.dumps(value, mode="relaxed")


@pytest.mark.parametrize(("path", "suite", "case"), _cases("valid"))
def test_valid(path: Path | None, suite: Any, case: Any) -> None:
    if path is None:
        missing(SUITE)
    canonical_bson = bytes.fromhex(case["canonical_bson"])
    canonical_json = case["canonical_extjson"]
    relaxed_json = case.get("relaxed_extjson")
    lossy = case.get("lossy", False)

    native = decode(canonical_bson)
    assert encode(native) == canonical_bson
    _assert_json(_canonical(native), canonical_json)
    if relaxed_json is not None:
        _assert_json(_relaxed(native), relaxed_json)
    if not lossy:
        assert encode(json_util.loads(canonical_json)) == canonical_bson

    if "degenerate_bson" in case:
        degenerate = decode(bytes.fromhex(case["degenerate_bson"]))
        assert encode(degenerate) == canonical_bson
        _assert_json(_canonical(degenerate), canonical_json)
        if relaxed_json is not None:
            _assert_json(_relaxed(degenerate), relaxed_json)
    if "degenerate_extjson" in case:
        parsed = json_util.loads(case["degenerate_extjson"])
        _assert_json(_canonical(parsed), canonical_json)
        if not lossy:
            assert encode(parsed) == canonical_bson
    if relaxed_json is not None:
        _assert_json(_relaxed(json_util.loads(relaxed_json)), relaxed_json)


@pytest.mark.parametrize(("path", "suite", "case"), _cases("decodeErrors"))
def test_decode_error(path: Path | None, suite: Any, case: Any) -> None:
    if path is None:
        missing(SUITE)
    data = bytes.fromhex(case["bson"])
    with pytest.raises(InvalidBSON) as caught:
        decode(data)
    offset = caught.value.offset
    assert offset is not None and 0 <= offset <= len(data), caught.value


@pytest.mark.parametrize(("path", "suite", "case"), _cases("parseErrors"))
def test_parse_error(path: Path | None, suite: Any, case: Any) -> None:
    if path is None:
        missing(SUITE)
    text = case["string"]
    if suite["bson_type"] == "0x13":
        with pytest.raises(ValueError):
            Decimal128(text)
        return
    # Plain JSON accepts every one of these; only the Extended JSON rules reject them.
    json.loads(text)
    with pytest.raises((ValueError, InvalidDocument)):
        encode(json_util.loads(text))
