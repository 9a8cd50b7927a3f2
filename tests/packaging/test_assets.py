"""packaging/ and resources/icons/: desktop entry, AppStream metainfo, icons, and scripts.

The desktop entry and the metainfo are checked twice where possible: by our own parse of
the rules that matter to a menu (always) and by the freedesktop validators
(``desktop-file-validate``, ``appstreamcli``) when the machine has them.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from app import __version__

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
LINUX = PACKAGING / "linux"
ICONS = REPO / "resources" / "icons"
APP_ID = "io.github.binnacle.Binnacle"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
# Desktop Menu spec, "Main Categories": every entry needs at least one of these.
MAIN_CATEGORIES = {"AudioVideo", "Audio", "Video", "Development", "Education", "Game",
                   "Graphics", "Network", "Office", "Science", "Settings", "System", "Utility"}


def load_make_icons() -> ModuleType:
    # packaging/ is no package on purpose: a packaging/__init__.py would shadow the
    # PyPI "packaging" library that pip and pytest import.
    spec = importlib.util.spec_from_file_location("make_icons", PACKAGING / "make_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_icons = load_make_icons()


def parse_desktop_entry(text: str) -> dict[str, dict[str, str]]:
    """Groups of key=value pairs; ValueError on a duplicate key or a line outside a group."""
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            raise ValueError(f"line {number} is neither a group header nor key=value: {line!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        if key in current:
            raise ValueError(f"line {number}: key {key!r} appears twice")
        current[key] = value
    return groups


def test_desktop_entry_has_what_a_menu_needs() -> None:
    entry = parse_desktop_entry(DESKTOP.read_text(encoding="utf-8"))["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Binnacle"
    assert entry["Icon"] == APP_ID  # a theme icon name, installed in hicolor
    assert entry["Exec"].split()[0] == "binnacle"
    assert entry["Terminal"] == "false"
    categories = entry["Categories"]
    assert categories.endswith(";")
    assert MAIN_CATEGORIES & set(categories.rstrip(";").split(";"))
    assert entry["Keywords"].endswith(";")
    # Reverse-DNS file name, as the Desktop Entry spec recommends for D-Bus activation.
    assert DESKTOP.stem.count(".") >= 2 and DESKTOP.stem == APP_ID


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate is not installed (Debian: desktop-file-utils)")
def test_desktop_file_validate_accepts_the_entry() -> None:
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)],
                            capture_output=True, text=True, timeout=30)
    problems = [line for line in result.stdout.splitlines()
                if "error:" in line or "warning:" in line]  # "hint:" lines are advice
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def test_metainfo_is_well_formed_with_the_required_tags() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    for tag in ("id", "name", "summary", "metadata_license", "project_license",
                "description", "launchable", "releases", "content_rating"):
        assert root.find(tag) is not None, f"metainfo lacks <{tag}>"
    assert root.findtext("id") == APP_ID
    assert root.findtext("project_license") == "Apache-2.0"
    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert launchable.text == DESKTOP.name
    description = root.find("description")
    assert description is not None and description.find("p") is not None
    newest = root.find("releases/release")
    assert newest is not None and newest.get("version") == __version__, (
        "the newest <release> in the metainfo must match app.__version__")
    assert root.findtext("provides/binary") == "binnacle"


@pytest.mark.skipif(shutil.which("appstreamcli") is None,
                    reason="appstreamcli is not installed (Debian: appstream)")
def test_appstreamcli_accepts_the_metainfo() -> None:
    result = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("size", make_icons.HICOLOR_SIZES)
def test_hicolor_png_exists_with_its_size(size: int) -> None:
    path = make_icons.hicolor_path(size)
    assert path.is_file(), f"{path} is missing: run packaging/make_icons.py"
    assert make_icons.png_size(path.read_bytes()) == (size, size)


def test_every_hicolor_size_from_16_to_512_is_there() -> None:
    found = sorted(int(p.parent.parent.name.split("x")[0])
                   for p in (ICONS / "hicolor").glob(f"*/apps/{APP_ID}.png"))
    assert found == sorted(make_icons.HICOLOR_SIZES)
    assert found[0] == 16 and found[-1] == 512


def test_ico_holds_a_png_of_each_windows_size() -> None:
    entries = make_icons.read_ico((ICONS / "binnacle.ico").read_bytes())
    assert sorted(width for width, _, _ in entries) == sorted(make_icons.ICO_SIZES)
    for width, height, data in entries:
        assert width == height
        assert make_icons.png_size(data) == (width, height)


def test_icns_chunks_hold_pngs_of_their_sizes() -> None:
    chunks = dict(make_icons.read_icns((ICONS / "binnacle.icns").read_bytes()))
    assert set(chunks) == {kind for kind, _ in make_icons.ICNS_TYPES}
    for kind, size in make_icons.ICNS_TYPES:
        assert make_icons.png_size(chunks[kind]) == (size, size), kind


def test_containers_reject_garbage() -> None:
    with pytest.raises(ValueError, match="not a PNG"):
        make_icons.png_size(b"GIF89a" + bytes(30))
    with pytest.raises(ValueError, match="ICO"):
        make_icons.read_ico(b"\x00\x00\x02\x00\x00\x00")
    with pytest.raises(ValueError, match="ICNS"):
        make_icons.read_icns(b"icnz\x00\x00\x00\x08")
    with pytest.raises(ValueError, match="1 to 256"):
        make_icons.ico_bytes({512: b""})


def test_svg_source_renders_opaque_centre_and_transparent_corner() -> None:
    from PySide6.QtGui import QImage

    svg = (ICONS / "binnacle.svg").read_bytes()
    ET.fromstring(svg)  # well-formed XML
    image = QImage.fromData(make_icons.render_png(svg, 48))
    assert (image.width(), image.height()) == (48, 48)
    assert image.pixelColor(24, 24).alpha() == 255  # the pivot
    assert image.pixelColor(0, 0).alpha() == 0  # outside the rounded tile


def test_make_icons_writes_the_whole_set(tmp_path: Path) -> None:
    written = make_icons.build_all(ICONS / "binnacle.svg", tmp_path)
    assert len(written) == len(make_icons.HICOLOR_SIZES) + 2
    for size in make_icons.HICOLOR_SIZES:
        data = make_icons.hicolor_path(size, tmp_path).read_bytes()
        assert make_icons.png_size(data) == (size, size)
    iconset = make_icons.write_iconset(tmp_path / "Binnacle.iconset", ICONS / "binnacle.svg")
    assert {p.name for p in iconset} >= {"icon_16x16.png", "icon_512x512@2x.png"}
    big = (tmp_path / "Binnacle.iconset" / "icon_512x512@2x.png").read_bytes()
    assert make_icons.png_size(big) == (1024, 1024)


@pytest.mark.parametrize("script", ["build_linux.sh", "smoke.sh"])
def test_bash_scripts_parse(script: str) -> None:
    result = subprocess.run(["bash", "-n", str(PACKAGING / script)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def make_fake_unpacked_tarball(root: Path) -> Path:
    """The tarball's layout with a stand-in bundle: a shell script that prints a line."""
    unpacked = root / "binnacle-0.0-linux-x86_64"
    (unpacked / "binnacle").mkdir(parents=True)
    exe = unpacked / "binnacle" / "binnacle"
    exe.write_text("#!/bin/sh\necho fake binnacle \"$@\"\n")
    exe.chmod(0o755)
    (unpacked / "binnacle" / "_internal").mkdir()
    (unpacked / "binnacle" / "_internal" / "data.txt").write_text("payload")
    for sub, source in (("applications", DESKTOP), ("metainfo", METAINFO)):
        (unpacked / "share" / sub).mkdir(parents=True)
        shutil.copy(source, unpacked / "share" / sub)
    shutil.copytree(ICONS / "hicolor", unpacked / "share" / "icons" / "hicolor")
    shutil.copy(LINUX / "install.sh", unpacked / "install.sh")
    return unpacked


def test_install_sh_installs_into_a_prefix_and_uninstalls(tmp_path: Path) -> None:
    unpacked = make_fake_unpacked_tarball(tmp_path / "unpacked")
    prefix = tmp_path / "my prefix"  # a space: Exec= must be quoted
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PREFIX": str(prefix)}
    result = subprocess.run(["sh", str(unpacked / "install.sh")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Binnacle installed" in result.stdout

    installed = prefix / "lib" / "binnacle" / "binnacle"
    assert (prefix / "lib" / "binnacle" / "_internal" / "data.txt").read_text() == "payload"
    link = prefix / "bin" / "binnacle"
    assert link.is_symlink() and link.resolve() == installed.resolve()
    ran = subprocess.run([str(link), "--smoke-test"], capture_output=True, text=True, timeout=30)
    assert ran.stdout.strip() == "fake binnacle --smoke-test"

    desktop = prefix / "share" / "applications" / DESKTOP.name
    entry = parse_desktop_entry(desktop.read_text(encoding="utf-8"))["Desktop Entry"]
    assert entry["Exec"] == f'"{installed}"'
    assert entry["TryExec"] == str(installed)
    assert entry["Icon"] == APP_ID
    for size in make_icons.HICOLOR_SIZES:
        assert make_icons.hicolor_path(size, prefix / "share" / "icons").is_file()
    assert (prefix / "share" / "metainfo" / METAINFO.name).is_file()

    again = subprocess.run(["sh", str(unpacked / "install.sh")], env=env,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr  # reinstalling over itself works

    removed = subprocess.run(["sh", str(unpacked / "install.sh"), "--uninstall"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert removed.returncode == 0, removed.stderr
    caches = {"mimeinfo.cache", "icon-theme.cache"}
    left = [p for p in prefix.rglob("*") if not p.is_dir() and p.name not in caches]
    assert left == []


def test_install_sh_refuses_unknown_options_and_a_missing_bundle(tmp_path: Path) -> None:
    shutil.copy(LINUX / "install.sh", tmp_path / "install.sh")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PREFIX": str(tmp_path / "p")}
    bad = subprocess.run(["sh", str(tmp_path / "install.sh"), "--frobnicate"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--frobnicate" in bad.stderr
    missing = subprocess.run(["sh", str(tmp_path / "install.sh")], env=env,
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 1 and "no bundle" in missing.stderr
    assert not (tmp_path / "p").exists()
