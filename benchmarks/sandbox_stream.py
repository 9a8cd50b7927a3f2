"""How fast the sandbox streams small documents to PyMongo over loopback (empty-filter find).

Prints documents per second, median of 5 full scans of N small (~42-byte) documents read and
decoded by PyMongo, with the default batches (101, then up to 16 MiB) and with batches of 1,000:
once with the sandbox in this process (its loop thread shares the GIL with PyMongo, as in the
app's demo) and once with ``python -m sandbox`` in a process of its own.
Run: ``.venv/bin/python benchmarks/sandbox_stream.py [--docs 200000]``. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bson  # noqa: E402
import pymongo  # noqa: E402

from sandbox.cluster import SandboxCluster  # noqa: E402


def small_docs(count: int) -> list[dict[str, Any]]:
    return [{"_id": i, "n": i * 7 % 1000, "name": f"doc-{i}", "ok": i % 2 == 0}
            for i in range(count)]


def timed(function: Callable[[], None], runs: int = 5) -> list[float]:
    results = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        results.append(time.perf_counter() - started)
    return results


def measure(label: str, uri: str, count: int) -> None:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    collection = client.bench.small
    list(collection.find())  # connect, warm the server's cache of pre-encoded documents

    def scan(batch_size: int) -> None:
        seen = sum(1 for _ in collection.find(batch_size=batch_size))
        assert seen == count, seen

    for batches, batch_size in (("default batches", 0), ("batchSize=1000", 1000)):
        seconds = statistics.median(timed(lambda b=batch_size: scan(b)))
        print(f"{label:20s} {batches:16s} {count:>9,d} docs  median {seconds * 1000:8.1f} ms  "
              f"{count / seconds:>10,.0f} docs/s", flush=True)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=200_000)
    args = parser.parse_args()
    docs = small_docs(args.docs)
    print(f"document size about {len(bson.encode(docs[0]))} bytes")
    with SandboxCluster("standalone") as cluster:
        cluster.call(lambda state: state.store.bulk_load("bench", "small", docs))
        measure("in-process sandbox", cluster.uri, args.docs)
    with subprocess.Popen([sys.executable, "-m", "sandbox", "--no-seed"], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}) as server:
        try:
            assert server.stdout is not None
            uri = server.stdout.readline().strip()
            loader: pymongo.MongoClient[Any] = pymongo.MongoClient(uri)
            loader.bench.small.insert_many(docs, ordered=False)
            loader.close()
            measure("separate process", uri, args.docs)
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
