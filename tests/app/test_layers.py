"""Layer rules of the app, checked on the source with ``ast``: ``app/`` uses only the
driver's public names (no ``from driver... import _private``, no reaching into a
client's ``._topology``), and the connection doctor goes through ``driver.probe``,
never the socket layer ``driver.net``."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
PRIVATE_ATTRIBUTES = frozenset({"_topology", "_get_topology"})


def private_driver_uses(source: str, filename: str = "<source>") -> list[str]:
    """Each private driver name ``source`` imports or private client attribute it reads."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "driver":
            module = node.module or ""
            if any(part.startswith("_") for part in module.split(".")):
                found.append(f"{filename}:{node.lineno} imports private module {module}")
            found += [f"{filename}:{node.lineno} imports {module}.{alias.name}"
                      for alias in node.names if alias.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES:
            found.append(f"{filename}:{node.lineno} reads .{node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant)
              and node.args[1].value in PRIVATE_ATTRIBUTES):
            found.append(f"{filename}:{node.lineno} reads {node.args[1].value!r} by name")
    return found


def driver_net_imports(source: str, filename: str = "<source>") -> list[str]:
    """Each import of ``driver.net`` (or a module under it) in ``source``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        if any(name == "driver.net" or name.startswith("driver.net.") for name in names):
            found.append(f"{filename}:{node.lineno}")
    return found


def test_the_checks_catch_what_they_look_for():
    assert private_driver_uses("from driver.sdam.topology import _EventListener\n")
    assert private_driver_uses("samples = client._topology.rtt_samples(a)\n")
    assert private_driver_uses("t = getattr(client, '_topology', None)\n")
    assert not private_driver_uses("from driver.errors import AutoReconnect\n")
    assert driver_net_imports("from driver.net.connection import create_socket\n")
    assert driver_net_imports("import driver.net.tls\n")
    assert not driver_net_imports("from driver.probe import probe\n")


def test_app_uses_no_private_driver_name():
    problems = [problem for path in sorted(APP.rglob("*.py"))
                for problem in private_driver_uses(path.read_text(), str(path.relative_to(APP)))]
    assert problems == []


def test_the_doctor_does_not_import_the_socket_layer():
    for name in ("doctor.py", "doctor_view.py"):
        path = APP / "cluster" / name
        assert driver_net_imports(path.read_text(), name) == []
