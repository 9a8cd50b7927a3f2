"""BSON, MongoDB's binary document format, in pure Python (PyMongo's ``bson`` names).

>>> from driver.bson import encode, decode
>>> decode(encode({"a": 1}))
{'a': 1}

``encode(mapping, check_keys=False, codec_options=None) -> bytes``;
``decode(bytes_like, codec_options=None)`` for exactly one document; ``decode_all`` /
``decode_iter`` for documents laid end to end (as in a reply batch or a dump file);
``RawBSONDocument`` keeps the bytes and decodes on access. Malformed bytes raise
``driver.errors.InvalidBSON`` (with ``offset``); values that cannot be encoded raise
``InvalidDocument``. Extended JSON lives in ``driver.bson.json_util``.

Decoded datetimes are naive UTC by default (``CodecOptions(tz_aware=True)`` for aware
ones); dates outside years 1-9999 decode as ``DatetimeMS``, which re-encodes exactly.
"""

from __future__ import annotations

from driver.bson.codec_options import (
    BINARY_SUBTYPE,
    COLUMN_SUBTYPE,
    DEFAULT_CODEC_OPTIONS,
    ENCRYPTED_SUBTYPE,
    FUNCTION_SUBTYPE,
    MD5_SUBTYPE,
    OLD_BINARY_SUBTYPE,
    OLD_UUID_SUBTYPE,
    SENSITIVE_SUBTYPE,
    USER_DEFINED_SUBTYPE,
    UUID_SUBTYPE,
    VECTOR_SUBTYPE,
    CodecOptions,
    DatetimeConversion,
    UuidRepresentation,
)
from driver.bson.decimal128 import Decimal128
from driver.bson.decoder import MAX_DOCUMENT_SIZE, decode, decode_all, decode_iter, is_valid
from driver.bson.encoder import encode
from driver.bson.objectid import ObjectId
from driver.bson.raw import DEFAULT_RAW_BSON_OPTIONS, RawBSONDocument
from driver.bson.types import (
    SON,
    Binary,
    Code,
    DatetimeMS,
    DBPointer,
    DBRef,
    Int64,
    MaxKey,
    MinKey,
    Regex,
    Symbol,
    Timestamp,
    Undefined,
)
from driver.errors import InvalidBSON, InvalidDocument, InvalidStringData

__all__ = [
    "BINARY_SUBTYPE",
    "COLUMN_SUBTYPE",
    "DEFAULT_CODEC_OPTIONS",
    "DEFAULT_RAW_BSON_OPTIONS",
    "ENCRYPTED_SUBTYPE",
    "FUNCTION_SUBTYPE",
    "MAX_DOCUMENT_SIZE",
    "MD5_SUBTYPE",
    "OLD_BINARY_SUBTYPE",
    "OLD_UUID_SUBTYPE",
    "SENSITIVE_SUBTYPE",
    "SON",
    "USER_DEFINED_SUBTYPE",
    "UUID_SUBTYPE",
    "VECTOR_SUBTYPE",
    "Binary",
    "Code",
    "CodecOptions",
    "DBPointer",
    "DBRef",
    "DatetimeConversion",
    "DatetimeMS",
    "Decimal128",
    "Int64",
    "InvalidBSON",
    "InvalidDocument",
    "InvalidStringData",
    "MaxKey",
    "MinKey",
    "ObjectId",
    "RawBSONDocument",
    "Regex",
    "Symbol",
    "Timestamp",
    "Undefined",
    "UuidRepresentation",
    "decode",
    "decode_all",
    "decode_iter",
    "encode",
    "is_valid",
]
