"""Wire compression (OP_COMPRESSED) and its negotiation.

zlib is always available (standard library). zstd and snappy are offered only when
their packages import (``zstandard``, ``python-snappy``); a name the client asks for
but cannot use is simply left out of the handshake's ``compression`` list, so the
connection falls back to the next choice or to no compression. The server answers
with the compressors it accepts, and the connection uses the first of those.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from driver.errors import ConfigurationError, ProtocolError

NOOP_ID = 0
SNAPPY_ID = 1
ZLIB_ID = 2
ZSTD_ID = 3

COMPRESSOR_IDS = {"noop": NOOP_ID, "snappy": SNAPPY_ID, "zlib": ZLIB_ID, "zstd": ZSTD_ID}
COMPRESSOR_NAMES = {value: key for key, value in COMPRESSOR_IDS.items()}

# "The following commands MUST NOT be compressed" (OP_COMPRESSED spec): the
# handshake and authentication commands, whose contents must stay readable.
UNCOMPRESSIBLE_COMMANDS = frozenset(
    {
        "hello",
        "ismaster",
        "saslstart",
        "saslcontinue",
        "getnonce",
        "authenticate",
        "createuser",
        "updateuser",
        "copydbsaslstart",
        "copydbgetnonce",
        "copydb",
    }
)


def may_compress(command_name: str) -> bool:
    """False for the commands the spec forbids compressing."""
    return command_name.lower() not in UNCOMPRESSIBLE_COMMANDS


def _optional_module(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


@dataclass(frozen=True)
class Compressor:
    """One negotiated compressor: its wire id and its two functions."""

    name: str
    compressor_id: int
    compress: Callable[[bytes], bytes]
    decompress: Callable[[bytes], bytes]


def _zlib_compressor(level: int) -> Compressor:
    if not -1 <= level <= 9:
        raise ConfigurationError(f"zlibCompressionLevel must be between -1 and 9, not {level}")
    return Compressor("zlib", ZLIB_ID, lambda data: zlib.compress(data, level), zlib.decompress)


def _zstd_compressor() -> Compressor | None:
    module = _optional_module("zstandard")
    if module is None:
        return None
    compressor = module.ZstdCompressor()
    decompressor = module.ZstdDecompressor()

    def decompress(data: bytes) -> bytes:
        # The frame may not record its content size; bound it by the message limit.
        result: bytes = decompressor.decompress(data, max_output_size=48 * 1024 * 1024)
        return result

    return Compressor("zstd", ZSTD_ID, compressor.compress, decompress)


def _snappy_compressor() -> Compressor | None:
    module = _optional_module("snappy")
    if module is None or not hasattr(module, "compress"):
        return None
    return Compressor("snappy", SNAPPY_ID, module.compress, module.uncompress)


def available_compressors() -> list[str]:
    """Names of the compressors this process can use, in preference order."""
    names = ["zlib"]
    if _optional_module("zstandard") is not None:
        names.insert(0, "zstd")
    snappy = _optional_module("snappy")
    if snappy is not None and hasattr(snappy, "compress"):
        names.append("snappy")
    return names


def usable_compressors(requested: Iterable[str]) -> list[str]:
    """``requested`` (from ``compressors=``) filtered to what is installed, order kept."""
    available = set(available_compressors())
    result: list[str] = []
    for name in requested:
        lowered = name.strip().lower()
        if lowered in available and lowered not in result:
            result.append(lowered)
    return result


def get_compressor(name: str, zlib_level: int = -1) -> Compressor:
    """The compressor called ``name``; ``ConfigurationError`` if unknown or not installed."""
    lowered = name.lower()
    if lowered == "zlib":
        return _zlib_compressor(zlib_level)
    made: Compressor | None = None
    if lowered == "zstd":
        made = _zstd_compressor()
    elif lowered == "snappy":
        made = _snappy_compressor()
    else:
        raise ConfigurationError(f"unknown compressor {name!r} (known: snappy, zlib, zstd)")
    if made is None:
        package = "zstandard" if lowered == "zstd" else "python-snappy"
        raise ConfigurationError(f"compressor {name!r} needs the {package!r} package installed")
    return made


def decompress(compressor_id: int, data: bytes, expected_size: int) -> bytes:
    """Undo OP_COMPRESSED for a reply; any failure or size mismatch is a ``ProtocolError``."""
    if compressor_id == NOOP_ID:
        result = data
    else:
        name = COMPRESSOR_NAMES.get(compressor_id)
        if name is None:
            raise ProtocolError(f"OP_COMPRESSED uses unknown compressor id {compressor_id}")
        try:
            compressor = get_compressor(name)
        except ConfigurationError as exc:
            raise ProtocolError(f"server replied with {name} compression: {exc}") from exc
        try:
            result = compressor.decompress(data)
        except Exception as exc:  # each library raises its own error type
            raise ProtocolError(f"cannot decompress {name} reply: {exc}") from exc
    if len(result) != expected_size:
        raise ProtocolError(
            f"decompressed reply is {len(result)} bytes, OP_COMPRESSED announced {expected_size}"
        )
    return result
