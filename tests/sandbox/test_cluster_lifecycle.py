"""Starting and stopping clusters (fast, nothing leaked), the control API's argument checks, the
demo data, the sample-data generator and the command line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox import sample_data
from sandbox.cluster import SandboxCluster
from tests.sandbox import rawwire
from tests.timing import assert_prompt

ROOT = Path(__file__).resolve().parents[2]


def _port_is_closed(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
    except OSError:
        return True
    return False


def test_close_is_fast_and_releases_sockets(make_client: Any) -> None:
    cluster = SandboxCluster("replset", 3, election_delay=0.1, tls=True).start()
    addresses = [m.address for m in cluster.members]
    ca_file = Path(cluster.ca_file or "")
    open_socket = rawwire.connect(addresses[0])
    client = make_client(cluster.uri)
    client.db.c.insert_one({"x": 1})
    client.close()
    started = time.perf_counter()
    cluster.close()
    assert_prompt(time.perf_counter() - started, "closing a three-member TLS replica set")
    assert rawwire.closed_by_server(open_socket)
    open_socket.close()
    assert all(_port_is_closed(a) for a in addresses)
    assert not ca_file.exists()
    cluster.close()  # idempotent


def test_fixed_port_and_restart_on_the_same_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with SandboxCluster("standalone", port=port) as cluster:
        assert cluster.members[0].port == port
        cluster.kill(0)
        assert _port_is_closed(f"127.0.0.1:{port}")
        cluster.restart(0)
        assert rawwire.command(f"127.0.0.1:{port}", {"ping": 1, "$db": "admin"})["ok"] == 1.0


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="kind"):
        SandboxCluster("cluster")
    with pytest.raises(ValueError, match="members"):
        SandboxCluster("standalone", 2)
    with pytest.raises(ValueError, match="user"):
        SandboxCluster(users=["nopassword"])
    with SandboxCluster("standalone") as cluster:
        with pytest.raises(ValueError, match="replica set"):
            cluster.step_down()
        with pytest.raises(ValueError, match="no such member"):
            cluster.kill(7)


def test_seeded_demo_starts_quickly_and_loads_lazily(make_client: Any) -> None:
    started = time.perf_counter()
    with SandboxCluster("standalone", seed=True) as cluster:
        startup = time.perf_counter() - started
        client = make_client(cluster.uri)
        names = client.list_database_names()
        assert {"shop", "iot", "catalog", "blobs"} <= set(names)
        assert cluster.call(lambda s: s.store.is_lazy("iot", "readings"))
        assert client.shop.orders.count_documents({}) == sample_data.SHOP_ORDERS
        assert client.shop.customers.count_documents({}) == sample_data.SHOP_CUSTOMERS
        kinds = {c["name"]: c["type"] for c in client.iot.list_collections()}
        assert kinds == {"readings": "timeseries"}
        assert client.iot.readings.estimated_document_count() == sample_data.IOT_READINGS
        assert not cluster.call(lambda s: s.store.is_lazy("iot", "readings"))
        assert client.shop.deliveredOrders.count_documents({}) > 0
        wide = client.catalog.wide.find_one()
        assert len(wide) == 202
        big = client.blobs.large.find_one({"_id": 2}, {"sizeMB": 1})
        assert big == {"_id": 2, "sizeMB": 15}
        client.close()
    assert startup < 3.0  # about half a second here; generous for a loaded CI machine


DIGEST_SCRIPT = """
import hashlib, bson
from sandbox import sample_data as s
parts = [s.customers, s.products, s.orders, s.wide_documents, lambda: s.readings(count=2000)]
print(hashlib.sha256(b"".join(bson.encode(d) for g in parts for d in g())).hexdigest())
"""


def test_sample_data_is_deterministic() -> None:
    # Same bytes in two fresh interpreters with different hash seeds.
    digests = set()
    for hash_seed in ("1", "987"):
        result = subprocess.run(
            [sys.executable, "-c", DIGEST_SCRIPT], cwd=ROOT, capture_output=True, text=True,
            timeout=60, check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)})
        digests.add(result.stdout.strip())
    assert len(digests) == 1 and len(digests.pop()) == 64
    first = list(sample_data.readings(count=500))
    assert first == list(sample_data.readings(count=500))
    products = {p["_id"]: p["price"] for p in sample_data.products()}
    order = next(sample_data.orders())
    assert all(item["unitPrice"] == products[item["sku"]] for item in order["items"])


def test_generator_script_writes_bson(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "resources/sample-data/generate.py"), "--out", str(tmp_path),
         "--only", "shop"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    import bson

    orders = bson.decode_all((tmp_path / "shop" / "orders.bson").read_bytes())
    assert len(orders) == sample_data.SHOP_ORDERS
    bad = subprocess.run(
        [sys.executable, str(ROOT / "resources/sample-data/generate.py"), "--out", str(tmp_path),
         "--only", "nope"], capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "nope" in bad.stderr


def test_command_line_prints_uri_and_serves(make_client: Any) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--replset", "3", "--auth", "admin:pw", "--no-seed",
         "--election-delay", "0.2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}) as process:
        _talk_to_cli(process, make_client)
    assert process.returncode == 0


def _talk_to_cli(process: subprocess.Popen[str], make_client: Any) -> None:
    try:
        assert process.stdout is not None
        uri = process.stdout.readline().strip()
        assert uri.startswith("mongodb://admin:pw@127.0.0.1:") and "replicaSet=rs0" in uri
        client = make_client(uri)
        assert client.admin.command("ping")["ok"] == 1.0
        assert client.admin.command("replSetGetStatus")["set"] == "rs0"
        client.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
