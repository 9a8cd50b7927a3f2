"""Render Binnacle's application icon from its SVG source into every format we ship.

    .venv/bin/python packaging/make_icons.py            # rewrite resources/icons/...
    .venv/bin/python packaging/make_icons.py --iconset build/Binnacle.iconset
                                                        # macOS: then `iconutil -c icns`

Writes, from ``resources/icons/binnacle.svg``:

* ``resources/icons/hicolor/<N>x<N>/apps/io.github.binnacle.Binnacle.png`` for the
  freedesktop hicolor sizes 16 to 512 (Linux desktop entry, window icon);
* ``resources/icons/binnacle.ico`` (Windows: PNG-compressed entries, 16 to 256 px);
* ``resources/icons/binnacle.icns`` (macOS: PNG-compressed entries, 16 to 1024 px).

Rendering uses PySide6's QtSvg (part of PySide6-Essentials), so no other package is
needed. The ICO and ICNS containers are small enough to write by hand: a header, a
table (ICO) or tagged chunks (ICNS), then the PNG bytes themselves.
"""

from __future__ import annotations

import argparse
import struct
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ICONS = REPO / "resources" / "icons"
SVG_SOURCE = ICONS / "binnacle.svg"
APP_ID = "io.github.binnacle.Binnacle"

# The hicolor theme's usual fixed sizes (freedesktop icon theme spec, "Directory Layout").
HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
# Windows shell sizes: small list views use 16/24, Explorer up to 256 (stored as "0").
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS chunk types that may hold PNG data, with the pixel size each one stores.
ICNS_TYPES = (
    (b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256),
    (b"ic09", 512), (b"ic10", 1024), (b"ic11", 32), (b"ic12", 64), (b"ic13", 256),
    (b"ic14", 512),
)
# The names iconutil expects inside a .iconset folder: (file name, pixel size).
ICONSET_FILES = tuple(
    (f"icon_{points}x{points}{suffix}.png", points * scale)
    for points in (16, 32, 128, 256, 512)
    for scale, suffix in ((1, ""), (2, "@2x"))
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def hicolor_path(size: int, root: Path = ICONS) -> Path:
    """Where the PNG of one hicolor size lives under ``root``."""
    return root / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) read from a PNG's IHDR chunk; ValueError if it is no PNG."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file (bad signature or first chunk is not IHDR)")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def render_png(svg: bytes, size: int) -> bytes:
    """The SVG drawn into a transparent ``size`` x ``size`` square, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise ValueError("the icon SVG could not be parsed by QtSvg")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    renderer.render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    # The stub wants bytes for the format, the binding accepts only str here.
    saved = image.save(buffer, "PNG")  # type: ignore[call-overload]
    if not saved:
        raise RuntimeError(f"Qt could not encode the {size} px icon as PNG")
    return bytes(buffer.data().data())


def ico_bytes(pngs: Mapping[int, bytes]) -> bytes:
    """A Windows .ico holding the given PNGs (size -> bytes), smallest first.

    Layout: ICONDIR (reserved 0, type 1 = icon, count), one 16-byte ICONDIRENTRY per
    image (width and height as one byte each, 0 meaning 256; colour count 0; planes 1;
    32 bits per pixel; byte length; offset from the file start), then the images.
    PNG-compressed entries are read by Windows Vista and later.
    """
    sizes = sorted(pngs)
    for size in sizes:
        if not 1 <= size <= 256:
            raise ValueError(f"an ICO entry must be 1 to 256 px wide, not {size}")
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = [], []
    for size in sizes:
        data = pngs[size]
        byte = 0 if size == 256 else size
        entries.append(struct.pack("<BBBBHHII", byte, byte, 0, 0, 1, 32, len(data), offset))
        blobs.append(data)
        offset += len(data)
    return header + b"".join(entries) + b"".join(blobs)


def read_ico(data: bytes) -> list[tuple[int, int, bytes]]:
    """The (width, height, image bytes) of each entry of an .ico file."""
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    if reserved != 0 or kind != 1:
        raise ValueError("not an ICO file (bad ICONDIR header)")
    result = []
    for index in range(count):
        width, height, _, _, _, _, length, offset = struct.unpack_from(
            "<BBBBHHII", data, 6 + 16 * index
        )
        result.append((width or 256, height or 256, data[offset:offset + length]))
    return result


def icns_bytes(chunks: Iterable[tuple[bytes, bytes]]) -> bytes:
    """A macOS .icns from (type, PNG bytes) chunks: 'icns' + total length, then each
    chunk as its 4-byte type + big-endian length (header included) + data."""
    body = b"".join(kind + struct.pack(">I", 8 + len(data)) + data for kind, data in chunks)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def read_icns(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, data) chunks of an .icns file."""
    if data[:4] != b"icns" or struct.unpack(">I", data[4:8])[0] != len(data):
        raise ValueError("not an ICNS file (bad magic or length)")
    chunks, position = [], 8
    while position < len(data):
        kind = data[position:position + 4]
        (length,) = struct.unpack(">I", data[position + 4:position + 8])
        if length < 8 or position + length > len(data):
            raise ValueError(f"ICNS chunk {kind!r} has a bad length {length}")
        chunks.append((kind, data[position + 8:position + length]))
        position += length
    return chunks


def build_all(svg_path: Path = SVG_SOURCE, root: Path = ICONS) -> list[Path]:
    """Render every PNG and write the ICO and ICNS under ``root``; returns paths written."""
    svg = svg_path.read_bytes()
    needed = sorted({*HICOLOR_SIZES, *ICO_SIZES, *(size for _, size in ICNS_TYPES)})
    rendered = {size: render_png(svg, size) for size in needed}
    written = []
    for size in HICOLOR_SIZES:
        target = hicolor_path(size, root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(rendered[size])
        written.append(target)
    ico = root / "binnacle.ico"
    ico.write_bytes(ico_bytes({size: rendered[size] for size in ICO_SIZES}))
    icns = root / "binnacle.icns"
    icns.write_bytes(icns_bytes((kind, rendered[size]) for kind, size in ICNS_TYPES))
    return [*written, ico, icns]


def write_iconset(folder: Path, svg_path: Path = SVG_SOURCE) -> list[Path]:
    """Write a macOS ``.iconset`` folder for ``iconutil -c icns <folder>``."""
    svg = svg_path.read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, size in ICONSET_FILES:
        target = folder / name
        target.write_bytes(render_png(svg, size))
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--svg", type=Path, default=SVG_SOURCE, help="the SVG source")
    parser.add_argument("--out", type=Path, default=ICONS, help="where to write the icons")
    parser.add_argument("--iconset", type=Path, metavar="DIR",
                        help="write a macOS .iconset folder instead (for iconutil)")
    args = parser.parse_args(argv)
    if not args.svg.is_file():
        print(f"make_icons: no SVG source at {args.svg}", file=sys.stderr)
        return 2
    if args.iconset is not None:
        paths = write_iconset(args.iconset, args.svg)
    else:
        paths = build_all(args.svg, args.out)
    total = sum(path.stat().st_size for path in paths)
    print(f"make_icons: wrote {len(paths)} files, {total / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
