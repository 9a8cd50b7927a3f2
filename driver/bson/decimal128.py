"""``Decimal128``: IEEE 754-2008 128-bit decimal in the binary integer decimal (BID) encoding.

Layout of the 16 bytes (little-endian on the wire; described here on the 128-bit integer):
bit 127 is the sign; when bits 126-125 are not ``11`` the next 14 bits are the biased
exponent (bias 6176) and the low 113 bits the coefficient; when they are ``11`` the
exponent sits two bits lower and the coefficient is ``100`` followed by the low 111 bits,
which is always above the 34-digit maximum, so the value is a non-canonical zero.
``11110`` marks infinity and ``11111`` NaN (the next bit set: signalling NaN).

Parsing a string follows the Decimal128 rules of the BSON corpus: the value must fit in
34 significant digits exactly (rounding away non-zero digits is an error), exponents
outside the range are clamped by padding the coefficient with zeros where possible, and
anything else (overflow, stray characters, whitespace) is rejected.
"""

from __future__ import annotations

import decimal
import re
import struct
from typing import Any

_TWO_U64 = struct.Struct("<QQ")

_EXPONENT_BIAS = 6176
_EXPONENT_MAX = 6111  # largest exponent of a 34-digit coefficient
_EXPONENT_MIN = -6176
_MAX_COEFFICIENT = 10**34 - 1

_SIGN_BIT = 1 << 63
_INFINITY_HIGH = 0x7800000000000000
_NAN_HIGH = 0x7C00000000000000
_COMBINATION_MASK = 0x1F << 58
_COMBINATION_INFINITY = 0x1E << 58
_COMBINATION_NAN = 0x1F << 58
_TWO_HIGH_BITS = 0x3 << 61

# The decimal module does the exact arithmetic: 34 digits, the Decimal128 exponent range,
# and "clamp" so large exponents fold into the coefficient (IEEE 754 'fold-down'). Every
# inexact result or overflow is trapped, which makes it an error rather than a rounding.
_CONTEXT = decimal.Context(
    prec=34,
    Emax=6144,
    Emin=-6143,
    rounding=decimal.ROUND_HALF_EVEN,
    capitals=1,
    clamp=1,
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.Inexact],
)

# The grammar the corpus accepts: ASCII digits only, an optional sign, one optional point,
# an optional exponent, or the special words (any case). No whitespace, no underscores,
# no NaN payloads, no signalling NaN.
_DECIMAL_STRING = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE | re.ASCII,
)


def _bid_from_decimal(value: decimal.Decimal) -> bytes:
    """The 16 little-endian bytes of a Decimal already inside Decimal128's range."""
    sign, digits, exponent = value.as_tuple()
    high = _SIGN_BIT if sign else 0
    if value.is_nan():
        return _TWO_U64.pack(0, high | _NAN_HIGH)
    if value.is_infinite():
        return _TWO_U64.pack(0, high | _INFINITY_HIGH)
    assert isinstance(exponent, int)
    coefficient = int("".join(map(str, digits))) if digits else 0
    biased = exponent + _EXPONENT_BIAS
    high |= (biased & 0x3FFF) << 49 | coefficient >> 64
    return _TWO_U64.pack(coefficient & 0xFFFFFFFFFFFFFFFF, high)


def _decimal_from_bid(raw: bytes) -> decimal.Decimal:
    low, high = _TWO_U64.unpack(raw)
    sign = 1 if high & _SIGN_BIT else 0
    combination = high & _COMBINATION_MASK
    if combination == _COMBINATION_NAN:
        return decimal.Decimal("NaN")  # the sign and payload of a NaN are not kept
    if combination == _COMBINATION_INFINITY:
        return decimal.Decimal("-Infinity" if sign else "Infinity")
    if high & _TWO_HIGH_BITS == _TWO_HIGH_BITS:
        # Implicit '100' prefix: at least 2**113, above 10**34 - 1, so the value is zero.
        exponent = ((high >> 47) & 0x3FFF) - _EXPONENT_BIAS
        coefficient = 0
    else:
        exponent = ((high >> 49) & 0x3FFF) - _EXPONENT_BIAS
        coefficient = (high & 0x1FFFFFFFFFFFF) << 64 | low
        if coefficient > _MAX_COEFFICIENT:
            coefficient = 0  # non-canonical coefficients are read as zero (IEEE 754 3.5.2)
    digits = tuple(int(d) for d in str(coefficient))
    return decimal.Decimal((sign, digits, exponent))


def _parse_decimal_string(text: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"Decimal128 strings must be str, not {type(text).__name__}")
    if _DECIMAL_STRING.fullmatch(text) is None:
        raise ValueError(f"{text!r} is not a valid Decimal128 string")
    try:
        value = _CONTEXT.create_decimal(text)
    except decimal.Overflow:
        raise ValueError(f"{text!r} is too large for Decimal128") from None
    except decimal.Inexact:
        raise ValueError(
            f"{text!r} cannot be stored exactly in Decimal128 (34 significant digits, "
            "exponent -6176..6111)"
        ) from None
    except decimal.DecimalException as exc:
        raise ValueError(f"{text!r} is not a valid Decimal128 string: {exc!r}") from None
    return _bid_from_decimal(value)


def _from_python_decimal(value: decimal.Decimal) -> bytes:
    if value.is_snan():
        raise ValueError("a signalling NaN cannot be stored as Decimal128")
    if value.is_nan():
        return _bid_from_decimal(value)
    try:
        fitted = _CONTEXT.create_decimal(value)
    except (decimal.Overflow, decimal.Inexact):
        raise ValueError(f"{value!r} cannot be stored exactly in Decimal128") from None
    return _bid_from_decimal(fitted)


class Decimal128:
    """A BSON Decimal128 value.

    ``Decimal128("1.5")``, ``Decimal128(decimal.Decimal("1.5"))`` or
    ``Decimal128((high, low))`` (two unsigned 64-bit halves); ``bid`` holds the 16 bytes.
    """

    __slots__ = ("_bid",)

    _bid: bytes

    def __init__(self, value: str | decimal.Decimal | tuple[int, int] | Decimal128) -> None:
        if isinstance(value, Decimal128):
            self._bid = value._bid
        elif isinstance(value, str):
            self._bid = _parse_decimal_string(value)
        elif isinstance(value, decimal.Decimal):
            self._bid = _from_python_decimal(value)
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            high, low = value
            if not (0 <= high <= 0xFFFFFFFFFFFFFFFF and 0 <= low <= 0xFFFFFFFFFFFFFFFF):
                raise ValueError("Decimal128 halves must be unsigned 64-bit integers")
            self._bid = _TWO_U64.pack(low, high)
        else:
            raise TypeError(
                "Decimal128 takes a str, a decimal.Decimal or a (high, low) pair, "
                f"not {type(value).__name__}"
            )

    @classmethod
    def from_bid(cls, value: bytes) -> Decimal128:
        """Wrap 16 little-endian BID bytes (as found on the wire)."""
        if not isinstance(value, bytes) or len(value) != 16:
            raise ValueError("Decimal128.from_bid needs exactly 16 bytes")
        result = object.__new__(cls)
        result._bid = value
        return result

    @property
    def bid(self) -> bytes:
        """The 16 little-endian bytes of the BID encoding."""
        return self._bid

    def to_decimal(self) -> decimal.Decimal:
        """The exact value as a ``decimal.Decimal``."""
        return _decimal_from_bid(self._bid)

    def __str__(self) -> str:
        # decimal's to-sci-string is the same algorithm the Decimal128 spec prescribes
        # (exponential notation when the exponent is positive or the adjusted exponent < -6).
        value = _decimal_from_bid(self._bid)
        if value.is_nan():
            return "NaN"
        return str(value)

    def __repr__(self) -> str:
        return f"Decimal128('{self}')"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Decimal128):
            return self._bid == other._bid
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Decimal128):
            return self._bid != other._bid
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._bid)

    def __getstate__(self) -> bytes:
        return self._bid

    def __setstate__(self, state: Any) -> None:
        self._bid = state


def decimal128_from_bytes(raw: bytes) -> Decimal128:
    """The decoder's fast path: wrap 16 bytes already known to be the right size."""
    result = object.__new__(Decimal128)
    result._bid = raw
    return result
