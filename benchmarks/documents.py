"""Documents view and export: time to first page, memory, JSON-lines export vs PyMongo.

    .venv/bin/python benchmarks/documents.py [--runs 5] [--export-docs 200000]

1. **First page**: a raw batch of 100,000 generated small documents (what
   ``find_raw_batches`` hands over; the first page of a 1M-document collection) goes into
   ``DocumentTreeModel.append_batch`` and a ``QTreeView`` paints its first screen (offscreen
   Qt). Timed from the batch's arrival to the end of the first paint. Target ≤ 150 ms.
2. **Memory**: process RSS after paging 10,000 documents (100 batches of 100) into the
   model and painting the last screen, the whole Python + Qt process included.
   Target ≤ 150 MB.
3. **Export**: the same raw batches written as relaxed Extended JSON lines, by
   ``app.documents.transfer.exporter.export_json`` and by PyMongo's ``bson.decode_all`` +
   ``bson.json_util.dumps`` (C decoder, Python JSON), in one run. Target: not slower.

Figures are medians of ``--runs`` runs; nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driver.bson import ObjectId, encode  # noqa: E402


def generated_batches(count: int, per_batch: int) -> list[bytes]:
    """``count`` small documents (id, name, number, date, nested, array) as raw batches."""
    start = datetime.datetime(2024, 1, 1)
    template = [
        encode(
            {
                "_id": ObjectId(),
                "sku": f"SKU-{index:07d}",
                "qty": index % 97,
                "price": index * 0.25,
                "at": start + datetime.timedelta(seconds=index),
                "dims": {"w": index % 13, "h": index % 7},
                "tags": ["a", "b"][: index % 3],
            }
        )
        for index in range(min(count, 5000))
    ]
    documents = [template[index % len(template)] for index in range(count)]
    return [
        b"".join(documents[offset : offset + per_batch]) for offset in range(0, count, per_batch)
    ]


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def first_page_ms(app: object, batch: bytes) -> float:
    from PySide6.QtWidgets import QTreeView

    from app.documents.views.tree_model import DocumentTreeModel

    model = DocumentTreeModel()
    view = QTreeView()
    view.setModel(model)
    view.resize(1000, 700)
    view.show()
    app.processEvents()  # type: ignore[attr-defined]
    started = time.perf_counter()
    model.reset(1, None)
    model.append_batch(1, batch)
    view.repaint()  # a synchronous paint of the first screen
    app.processEvents()  # type: ignore[attr-defined]
    elapsed = (time.perf_counter() - started) * 1000
    view.close()
    model.close()
    return elapsed


def memory_after_scrolling(app: object, batches: list[bytes]) -> float:
    from PySide6.QtWidgets import QTreeView

    from app.documents.views.tree_model import DocumentTreeModel

    model = DocumentTreeModel()
    view = QTreeView()
    view.setModel(model)
    view.resize(1000, 700)
    view.show()
    model.reset(1, None)
    for batch in batches:
        model.append_batch(1, batch)
        view.scrollToBottom()
        app.processEvents()  # type: ignore[attr-defined]
    view.repaint()
    figure = rss_mb()
    view.close()
    model.close()
    return figure


def export_ours(batches: list[bytes], path: Path) -> float:
    from app.documents.transfer.exporter import export_json, raw_documents_from_batches

    started = time.perf_counter()
    export_json(raw_documents_from_batches(batches), path, mode="relaxed")
    return time.perf_counter() - started


def export_pymongo(batches: list[bytes], path: Path) -> float:
    import bson
    from bson import json_util

    options = json_util.RELAXED_JSON_OPTIONS
    started = time.perf_counter()
    with open(path, "w", encoding="utf-8") as stream:
        for batch in batches:
            for document in bson.decode_all(batch):
                stream.write(json_util.dumps(document, json_options=options))
                stream.write("\n")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--export-docs", type=int, default=200_000)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    first_batch = generated_batches(100_000, 100_000)[0]
    pages = [first_page_ms(app, first_batch) for _ in range(args.runs)]
    print(f"first page (100,000-document batch): median {statistics.median(pages):.1f} ms "
          f"(runs {', '.join(f'{p:.1f}' for p in pages)}; target <= 150 ms)")  # fmt: skip

    memory = memory_after_scrolling(app, generated_batches(10_000, 100))
    print(f"RSS after paging 10,000 documents: {memory:.0f} MB (target <= 150 MB)")

    batches = generated_batches(args.export_docs, 1000)
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.runs):
            ours.append(export_ours(batches, Path(folder) / "ours.json"))
            theirs.append(export_pymongo(batches, Path(folder) / "pymongo.json"))
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(
        f"export {args.export_docs:,} documents to JSON lines: ours {ours_median:.2f} s "
        f"({args.export_docs / ours_median:,.0f} docs/s), PyMongo json_util "
        f"{theirs_median:.2f} s ({args.export_docs / theirs_median:,.0f} docs/s); "
        f"ratio {ours_median / theirs_median:.2f}x (target <= 1.00)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
