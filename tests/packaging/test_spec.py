"""packaging/binnacle.spec: it parses, and run with stand-ins for PyInstaller's build
classes it asks for the right bundle on each platform.

PyInstaller runs a spec as Python with ``Analysis``, ``PYZ``, ``EXE``, ``COLLECT`` and
``BUNDLE`` already defined. Here those are recorders, and ``PyInstaller.utils.hooks`` is
a stand-in module, so the test needs no PyInstaller and builds nothing (the real build
is ``packaging/build_linux.sh``, smoke-tested by ``packaging/smoke.sh`` in CI).
"""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "packaging" / "binnacle.spec"


class Recorder:
    """Stands in for one PyInstaller build class: remembers how it was called."""

    def __init__(self, kind: str, calls: dict[str, dict[str, Any]]) -> None:
        self.kind = kind
        self.calls = calls

    def __call__(self, *args: Any, **kwargs: Any) -> types.SimpleNamespace:
        self.calls[self.kind] = {"args": args, **kwargs}
        return types.SimpleNamespace(
            scripts=[], pure=[], binaries=list(kwargs.get("binaries", [])) + [
                ("PySide6/Qt/plugins/platforms/libqxcb.so", "/src/libqxcb.so", "BINARY"),
                ("PySide6/Qt/plugins/platforms/libqvnc.so", "/src/libqvnc.so", "BINARY"),
                ("PySide6/Qt/lib/libQt6Network.so.6", "/src/libQt6Network.so.6", "BINARY"),
            ],
            datas=[(dest, source, "DATA") for source, dest in kwargs.get("datas", [])] + [
                ("PySide6/Qt/translations/qtbase_de.qm", "/src/qtbase_de.qm", "DATA"),
            ],
        )


def run_spec(monkeypatch: pytest.MonkeyPatch, platform: str,
             console: str | None = None) -> dict[str, dict[str, Any]]:
    calls: dict[str, dict[str, Any]] = {}
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda package: [f"{package}.<all>"]  # type: ignore[attr-defined]
    hooks.copy_metadata = lambda name: [(f"/site/{name}.dist-info", f"{name}.dist-info")]  # type: ignore[attr-defined]
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    monkeypatch.setattr(sys, "platform", platform)
    if console is None:
        monkeypatch.delenv("BINNACLE_CONSOLE", raising=False)
    else:
        monkeypatch.setenv("BINNACLE_CONSOLE", console)
    namespace: dict[str, Any] = {"SPECPATH": str(SPEC.parent), "__file__": str(SPEC),
                                 "__name__": "__main__"}
    for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"):
        namespace[kind] = Recorder(kind, calls)
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    calls["_namespace"] = namespace
    return calls


def test_spec_is_python_and_names_the_entry_script() -> None:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    strings = {node.value for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert "binnacle_main.py" in strings
    entry = REPO / "packaging" / "binnacle_main.py"
    assert "from app.main import main" in entry.read_text(encoding="utf-8")
    called = {node.func.id for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"} <= called


def test_linux_bundle_is_one_folder_with_resources_and_without_unused_qt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = run_spec(monkeypatch, "linux")
    analysis = calls["Analysis"]
    assert [Path(p).name for p in analysis["args"][0]] == ["binnacle_main.py"]
    assert (str(REPO / "resources"), "resources") in analysis["datas"]
    assert any(dest == "mongomock.dist-info" for _, dest in analysis["datas"])
    hidden = analysis["hiddenimports"]
    assert {"app.<all>", "driver.<all>", "sandbox.<all>"} <= set(hidden)
    excludes = set(analysis["excludes"])
    assert {"tkinter", "PyQt5", "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtSvg"} <= excludes
    assert not {"PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets"} & excludes
    assert [Path(p).name for p in analysis["runtime_hooks"]] == ["rthook_qt_api.py"]

    exe = calls["EXE"]
    assert exe["exclude_binaries"] is True  # one-folder: binaries go to COLLECT
    assert exe["console"] is False and exe["upx"] is False
    assert exe["icon"] is None
    assert calls["COLLECT"]["name"] == "binnacle"
    assert "BUNDLE" not in calls
    a = calls["_namespace"]["a"]
    kept = {dest for dest, _, _ in a.binaries}
    assert "PySide6/Qt/plugins/platforms/libqxcb.so" in kept
    assert "PySide6/Qt/plugins/platforms/libqvnc.so" not in kept
    assert not any("/translations/" in dest for dest, _, _ in a.datas)


def test_console_toggle(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_spec(monkeypatch, "win32", console="1")["EXE"]["console"] is True
    assert run_spec(monkeypatch, "win32", console="0")["EXE"]["console"] is False


def test_windows_uses_the_ico(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = run_spec(monkeypatch, "win32")
    icon = Path(calls["EXE"]["icon"])
    assert icon.name == "binnacle.ico" and icon.is_file()
    assert "BUNDLE" not in calls
    kept = {dest for dest, _, _ in calls["_namespace"]["a"].binaries}
    assert "PySide6/Qt/lib/libQt6Network.so.6" in kept  # the Linux-only trim stays there


def test_macos_bundle_has_identifier_icon_and_version(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import __version__

    calls = run_spec(monkeypatch, "darwin")
    bundle = calls["BUNDLE"]
    assert bundle["name"] == "Binnacle.app"
    assert bundle["bundle_identifier"] == "io.github.binnacle.Binnacle"
    assert Path(bundle["icon"]).name == "binnacle.icns" and Path(bundle["icon"]).is_file()
    assert bundle["version"] == __version__
    assert bundle["info_plist"]["NSHighResolutionCapable"] is True


def test_runtime_hook_prefers_pyside6(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    fake_environ: dict[str, str] = {}
    monkeypatch.setattr(os, "environ", fake_environ)
    hook = REPO / "packaging" / "rthook_qt_api.py"
    exec(compile(hook.read_text(encoding="utf-8"), str(hook), "exec"), {})
    assert fake_environ == {"QT_API": "pyside6"}
