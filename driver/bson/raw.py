"""``RawBSONDocument``: a read-only mapping that keeps its BSON bytes and decodes on access.

The app holds whole batches of these (100k documents cost little more than their bytes)
and decodes only the rows it shows. The first key lookup decodes the top level once;
embedded documents stay raw until they are looked into in turn. ``raw`` gives back the
original bytes, and encoding a ``RawBSONDocument`` copies them unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from driver.bson.codec_options import CodecOptions
from driver.errors import InvalidBSON


class RawBSONDocument(Mapping[str, Any]):
    """A BSON document kept as bytes; the mapping interface decodes lazily.

    ``codec_options`` controls how values are decoded; its ``document_class`` must be
    ``RawBSONDocument`` (or a subclass), which is what embedded documents become.
    """

    __slots__ = ("_raw", "_inflated", "_codec_options")

    # Tells CodecOptions (without an import cycle) that this class wants raw documents.
    _raw_bson_document = True

    def __init__(self, bson_bytes: bytes, codec_options: CodecOptions | None = None) -> None:
        if isinstance(bson_bytes, (bytearray, memoryview)):
            bson_bytes = bytes(bson_bytes)
        if not isinstance(bson_bytes, bytes):
            raise TypeError(f"RawBSONDocument needs bytes, not {type(bson_bytes).__name__}")
        if len(bson_bytes) < 5:
            raise InvalidBSON(f"{len(bson_bytes)} bytes are too few for a BSON document", 0)
        declared = int.from_bytes(bson_bytes[:4], "little", signed=True)
        if declared != len(bson_bytes):
            raise InvalidBSON(
                f"declared document length {declared} but {len(bson_bytes)} bytes given", 0
            )
        if bson_bytes[-1]:
            raise InvalidBSON("document does not end with a NUL byte", len(bson_bytes) - 1)
        if codec_options is None:
            codec_options = DEFAULT_RAW_BSON_OPTIONS
        elif not codec_options._is_raw:
            raise TypeError(
                "RawBSONDocument's codec_options.document_class must be RawBSONDocument, "
                f"not {codec_options.document_class.__name__}"
            )
        self._raw = bson_bytes
        self._inflated: dict[str, Any] | None = None
        self._codec_options = codec_options

    @property
    def raw(self) -> bytes:
        """The BSON bytes of this document."""
        return self._raw

    @property
    def codec_options(self) -> CodecOptions:
        return self._codec_options

    def _elements(self) -> dict[str, Any]:
        inflated = self._inflated
        if inflated is None:
            from driver.bson.decoder import _decode_elements

            try:
                inflated = _decode_elements(
                    self._raw, 4, len(self._raw) - 1, self._codec_options, False
                )
            except RecursionError:
                raise InvalidBSON("document is nested too deeply to decode", 0) from None
            self._inflated = inflated
        return inflated

    def items(self) -> Any:
        return self._elements().items()

    def __getitem__(self, key: str) -> Any:
        return self._elements()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._elements())

    def __len__(self) -> int:
        return len(self._elements())

    def __contains__(self, key: object) -> bool:
        return key in self._elements()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RawBSONDocument):
            return self._raw == other._raw
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._raw!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self._raw, self._codec_options)


#: ``CodecOptions(document_class=RawBSONDocument)``.
DEFAULT_RAW_BSON_OPTIONS = CodecOptions(document_class=RawBSONDocument)
