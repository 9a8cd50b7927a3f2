"""Binnacle's driver side by side with PyMongo (C extensions) against the sandbox.

Workloads, each timed ``--runs`` times per driver (medians printed, with our/PyMongo ratio):

* ``find+iterate``: an empty-filter ``find`` over N small documents, every one decoded
  (the sandbox's fast path: pre-encoded documents streamed);
* ``find_raw_batches``: the same scan, batches kept as BSON bytes (ours) — compared with
  PyMongo's decoded iteration, the thing the app's lazy views replace;
* ``insert_many``: N small documents into an empty collection;
* ``find_one by _id``: 5,000 round trips (latency), on a 1,000-document collection
  (the sandbox answers a filtered find by scanning in mongomock, so a big collection
  would measure the sandbox, not the drivers).

Run: ``.venv/bin/python benchmarks/driver_bench.py [--docs 100000] [--runs 5]``.
Figures, not assertions. Both drivers run in this process, one at a time.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pymongo  # noqa: E402

import driver  # noqa: E402
from sandbox.cluster import SandboxCluster  # noqa: E402

LOOKUP_DOCS = 1000


def small_docs(count: int) -> list[dict[str, Any]]:
    return [{"_id": i, "n": i * 7 % 1000, "name": f"doc-{i}", "ok": i % 2 == 0}
            for i in range(count)]


def median_time(function: Callable[[], Any], runs: int, setup: Callable[[], Any] | None = None
                ) -> float:
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        gc.collect()
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_reads(client: Any, name: str, docs: int, runs: int, raw: bool) -> dict[str, float]:
    coll = client.bench[name]
    results: dict[str, float] = {}

    def iterate() -> None:
        count = sum(1 for _ in coll.find())
        assert count == docs, count

    results["find+iterate"] = median_time(iterate, runs)
    if raw:
        def raw_batches() -> None:
            total = sum(len(batch) for batch in coll.find_raw_batches())
            assert total > docs * 20

        results["find_raw_batches"] = median_time(raw_batches, runs)
    lookups = 5000
    small = client.bench["lookup"]

    def find_one() -> None:
        for i in range(lookups):
            assert small.find_one({"_id": i % LOOKUP_DOCS}) is not None

    results["find_one by _id x5000"] = median_time(find_one, max(1, runs // 2))
    return results


def bench_insert(client: Any, name: str, docs: int, runs: int) -> float:
    coll = client.bench[name]
    payload: list[list[dict[str, Any]]] = []

    def setup() -> None:
        coll.drop()
        payload.clear()
        payload.append(small_docs(docs))

    def insert() -> None:
        coll.insert_many(payload[0])

    return median_time(insert, runs, setup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with SandboxCluster(kind="standalone") as cluster:
        ours = driver.MongoClient(cluster.uri)
        theirs: Any = pymongo.MongoClient(cluster.uri)
        try:
            theirs.bench.data.drop()
            theirs.bench.data.insert_many(small_docs(args.docs))
            theirs.bench.lookup.drop()
            theirs.bench.lookup.insert_many(small_docs(LOOKUP_DOCS))
            results: dict[str, tuple[float, float]] = {}
            print(f"{args.docs} small documents, median of {args.runs} runs, "
                  f"PyMongo {pymongo.version} (C extensions: {pymongo.has_c()})", flush=True)
            mine = bench_reads(ours, "data", args.docs, args.runs, raw=True)
            pymongo_reads = bench_reads(theirs, "data", args.docs, args.runs, raw=False)
            for key, value in pymongo_reads.items():
                results[key] = (mine[key], value)
            # Raw batches are compared with PyMongo's decoded iteration (what they replace)
            # and shown next to PyMongo's own raw batches.
            results["find_raw_batches (vs PyMongo decoded)"] = (
                mine["find_raw_batches"], pymongo_reads["find+iterate"])
            raw_theirs = median_time(
                lambda: sum(len(b) for b in theirs.bench.data.find_raw_batches()), args.runs)
            results["find_raw_batches (vs PyMongo raw)"] = (mine["find_raw_batches"], raw_theirs)
            results["insert_many"] = (
                bench_insert(ours, "ins_ours", args.docs, args.runs),
                bench_insert(theirs, "ins_theirs", args.docs, args.runs),
            )
            print(f"{'workload':42} {'Binnacle':>10} {'PyMongo':>10} {'ratio':>7}")
            for key, (ours_s, theirs_s) in results.items():
                print(f"{key:42} {ours_s:9.3f}s {theirs_s:9.3f}s {ours_s / theirs_s:6.2f}x")
        finally:
            theirs.drop_database("bench")
            ours.close()
            theirs.close()


if __name__ == "__main__":
    main()
