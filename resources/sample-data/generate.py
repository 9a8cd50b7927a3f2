"""Write the sandbox's generated sample datasets as BSON files (one ``<db>/<collection>.bson``
per collection, documents concatenated, as mongodump lays them out).

    python resources/sample-data/generate.py [--out DIR] [--big] [--only shop,iot]

The data are generated from fixed seeds by ``sandbox.sample_data``: the same command always writes
the same bytes. Nothing is committed but this script; the sandbox builds the data in memory itself.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import bson  # noqa: E402

from sandbox import sample_data  # noqa: E402

DATASETS: dict[str, dict[str, Callable[[], Iterable[dict[str, Any]]]]] = {
    "shop": {"customers": sample_data.customers, "products": sample_data.products,
             "orders": sample_data.orders},
    "iot": {"readings": sample_data.readings},
    "catalog": {"wide": sample_data.wide_documents},
    "blobs": {"large": sample_data.large_documents},
}


def write_collection(path: Path, documents: Iterable[dict[str, Any]]) -> tuple[int, int]:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = size = 0
    with path.open("wb") as out:
        for doc in documents:
            data = bson.encode(doc)
            out.write(data)
            count += 1
            size += len(data)
    return count, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "generated")
    parser.add_argument("--big", action="store_true", help="also write big.items (1,000,000 docs)")
    parser.add_argument("--only", default="", help="comma-separated databases to write")
    args = parser.parse_args(argv)
    datasets = dict(DATASETS)
    if args.big:
        datasets["big"] = {"items": sample_data.big_items}
    wanted = {name for name in args.only.split(",") if name}
    unknown = wanted - set(datasets)
    if unknown:
        print(f"unknown dataset(s): {', '.join(sorted(unknown))}; known: "
              f"{', '.join(sorted(datasets))}", file=sys.stderr)
        return 2
    for db, collections in datasets.items():
        if wanted and db not in wanted:
            continue
        for name, generator in collections.items():
            started = time.perf_counter()
            count, size = write_collection(args.out / db / f"{name}.bson", generator())
            print(f"{db}.{name}: {count:,} documents, {size / 1e6:.1f} MB, "
                  f"{time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
