"""BSON throughput: our pure-Python codec beside PyMongo's ``bson``, in one run.

    .venv/bin/python benchmarks/bson_bench.py [--runs 5] [--seconds 0.25]

Three workloads, each measured as documents per second (the median of ``--runs``
timed runs, each about ``--seconds`` long):

* ``small``: a flat document of 10 fields (ObjectId, strings, ints, doubles, a
  datetime, a bool), about 160 bytes;
* ``nested``: about 1 KB of sub-documents and arrays (a user with an address, eight
  line items with tags and dates);
* ``decode_all``: 100 small documents laid end to end (a reply batch), in one call.

Three codecs: ours (``driver.bson``), PyMongo with its C extension, and PyMongo's
pure-Python fallback. The last one runs in a child process where the import of the
C extension (``bson._cbson``) is blocked, so the fallback is what gets timed; the runs
of the three codecs alternate, so that a busy moment on a shared machine hits them all.
Times are the CPU time of the measuring process (``time.process_time``), which other
processes competing for the cores do not inflate the way they inflate wall-clock time;
on an idle machine the two agree. PyMongo is
a benchmark anchor only; the driver never imports it. This is not a test: it prints.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH_SIZE = 100


def sample_documents() -> dict[str, bytes]:
    """The workloads as BSON bytes (built with our encoder; both codecs read them)."""
    from driver.bson import ObjectId, encode

    small = {
        "_id": ObjectId("6650a1b2c3d4e5f601234567"),
        "name": "Ada Lovelace",
        "age": 36,
        "score": 97.5,
        "created": datetime.datetime(2024, 5, 1, 12, 30, 0, 123000),
        "active": True,
        "city": "London",
        "visits": 1234567,
        "ratio": 0.25,
        "email": "ada@example.com",
    }
    nested = {
        "_id": ObjectId("6650a1b2c3d4e5f601234568"),
        "user": {
            "name": "Grace Hopper",
            "roles": ["admin", "dev", "ops"],
            "address": {
                "street": "1 Main St",
                "city": "Arlington",
                "zip": "22201",
                "geo": [38.88, -77.1],
            },
        },
        "items": [
            {
                "sku": f"SKU-{index:04d}",
                "qty": index,
                "price": 9.99 + index,
                "tags": ["a", "b"],
                "added": datetime.datetime(2024, 1, index + 1),
            }
            for index in range(8)
        ],
        "flags": {"x": True, "y": False},
        "notes": "lorem ipsum dolor sit amet " * 3,
        "total": 123.45,
        "count": 42,
    }
    small_bytes = encode(small)
    return {"small": small_bytes, "nested": encode(nested), "batch": small_bytes * BATCH_SIZE}


OPERATIONS = ("decode small", "encode small", "decode nested", "encode nested", "decode_all")


def workloads(codec: str) -> dict[str, tuple[Callable[[], Any], int]]:
    """operation → (a call doing it once, documents per call) for one codec."""
    documents = sample_documents()
    codec_module: Any
    if codec == "ours":
        import driver.bson as codec_module
    else:
        import bson as codec_module
    decode, decode_all, encode = codec_module.decode, codec_module.decode_all, codec_module.encode
    result: dict[str, tuple[Callable[[], Any], int]] = {}
    for name in ("small", "nested"):
        data = documents[name]
        native = decode(data)
        assert encode(native) == data, f"{codec} does not round-trip the {name} document"
        result[f"decode {name}"] = (partial(decode, data), 1)
        result[f"encode {name}"] = (partial(encode, native), 1)
    assert len(decode_all(documents["batch"])) == BATCH_SIZE
    result["decode_all"] = (partial(decode_all, documents["batch"]), BATCH_SIZE)
    return result


def calibrate(function: Callable[[], Any], seconds: float) -> int:
    """How many calls take about ``seconds`` (found on a warm-up)."""
    loops = 1
    while True:
        start = time.process_time()
        for _ in range(loops):
            function()
        elapsed = time.process_time() - start
        if elapsed >= seconds / 4:
            return max(1, int(loops * seconds / elapsed))
        loops *= 2


def timed_run(function: Callable[[], Any], loops: int) -> float:
    """Calls per second over one run of ``loops`` calls."""
    start = time.process_time()
    for _ in range(loops):
        function()
    return loops / (time.process_time() - start)


def serve() -> None:
    """The child process's loop: "calibrate OP SECONDS" or "run OP LOOPS" per line."""
    table = workloads("pymongo")
    for line in sys.stdin:
        command, rest = line.split(maxsplit=1)
        operation, argument = rest.rsplit(maxsplit=1)
        function = table[operation][0]
        if command == "calibrate":
            answer: float = calibrate(function, float(argument))
        else:
            answer = timed_run(function, int(argument))
        print(answer, flush=True)


_BLOCK_C_EXTENSION = """
import sys
class _NoCExtension:
    def find_spec(self, name, path=None, target=None):
        if name in ("bson._cbson", "pymongo._cmessage"):
            raise ImportError("C extension disabled for the pure-Python benchmark")
        return None
sys.meta_path.insert(0, _NoCExtension())
import bson
assert not bson.has_c(), "the C extension is still in use"
"""


class PurePyMongo:
    """PyMongo's pure-Python path in a child process where ``bson._cbson`` cannot be
    imported, driven line by line so its runs interleave with the others'."""

    def __init__(self) -> None:
        script = (
            _BLOCK_C_EXTENSION
            + f"sys.path.insert(0, {str(ROOT)!r})\n"
            + "from benchmarks.bson_bench import serve\nserve()\n"
        )
        self._child = subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, line: str) -> float:
        assert self._child.stdin is not None and self._child.stdout is not None
        self._child.stdin.write(line + "\n")
        self._child.stdin.flush()
        answer = self._child.stdout.readline()
        if not answer:
            raise RuntimeError("the pure-Python PyMongo child process failed")
        return float(answer)

    def close(self) -> None:
        assert self._child.stdin is not None
        self._child.stdin.close()
        self._child.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--seconds", type=float, default=0.25, help="length of one run")
    args = parser.parse_args(argv)

    documents = sample_documents()
    print(
        f"documents: small {len(documents['small'])} B, nested {len(documents['nested'])} B, "
        f"decode_all: {BATCH_SIZE} small documents end to end; docs/s, median of {args.runs} "
        f"interleaved runs; Python {sys.version.split()[0]}"
    )
    local = {"ours": workloads("ours")}
    try:
        import bson

        if bson.has_c():
            local["PyMongo C"] = workloads("pymongo")
    except ImportError:
        print("(PyMongo is not installed: only our figures)")
    pure: PurePyMongo | None = PurePyMongo() if "PyMongo C" in local else None

    header = (
        f"{'operation':<16}{'ours':>11}{'PyMongo C':>12}{'PyMongo pure':>14}"
        f"{'ours/C':>9}{'ours/pure':>11}"
    )
    print(header)
    print("-" * len(header))
    try:
        for operation in OPERATIONS:
            loops = {
                name: calibrate(table[operation][0], args.seconds) for name, table in local.items()
            }
            if pure is not None:
                pure_loops = int(pure.ask(f"calibrate {operation} {args.seconds}"))
            rates: dict[str, list[float]] = {name: [] for name in [*local, "PyMongo pure"]}
            for _ in range(args.runs):  # interleaved, so a busy moment hits every codec
                for name, table in local.items():
                    function, per_call = table[operation]
                    rates[name].append(timed_run(function, loops[name]) * per_call)
                if pure is not None:
                    per_call = local["ours"][operation][1]
                    rates["PyMongo pure"].append(
                        pure.ask(f"run {operation} {pure_loops}") * per_call
                    )
            median = {name: statistics.median(values) for name, values in rates.items() if values}
            ours = median["ours"]
            c_rate, pure_rate = median.get("PyMongo C"), median.get("PyMongo pure")
            print(
                f"{operation:<16}{ours:>11,.0f}"
                f"{(f'{c_rate:,.0f}' if c_rate else 'n/a'):>12}"
                f"{(f'{pure_rate:,.0f}' if pure_rate else 'n/a'):>14}"
                f"{(f'{ours / c_rate:.2f}x' if c_rate else 'n/a'):>9}"
                f"{(f'{ours / pure_rate:.2f}x' if pure_rate else 'n/a'):>11}"
            )
    finally:
        if pure is not None:
            pure.close()


if __name__ == "__main__":
    main()
