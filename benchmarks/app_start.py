"""How fast Binnacle starts: process start → first painted main window, and → demo tree shown.

Each run starts a fresh ``python -m app.main --report-timings`` (offscreen Qt). The child
prints the wall-clock time just after its window's first paint has been flushed (and, with
``--demo``, once the tree lists the demo's databases); the figure is that time minus the
wall-clock time just before this script started the child. Median of 5 runs after one
warm-up run (which fills the OS file cache, as a second launch of any desktop app would).
Targets on a small machine: first paint ≤ 0.5 s, demo tree ≤ 1.5 s.

Run: ``.venv/bin/python benchmarks/app_start.py [--runs 5]``. Figures, not assertions;
the exit code is 1 only if a run failed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"first-paint": 0.5, "demo-tree": 1.5}


def one_run(demo: bool) -> dict[str, float]:
    """Seconds from process start to each event the child reports."""
    command = [sys.executable, "-m", "app.main", "--report-timings"]
    if demo:
        command.append("--demo")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = time.time()
    out = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} exited {out.returncode}: "
                           f"{out.stderr.strip()[-500:]}")
    figures = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in TARGETS:
            figures[parts[0]] = float(parts[1]) - started
    missing = [name for name in (TARGETS if demo else ["first-paint"]) if name not in figures]
    if missing:
        raise RuntimeError(f"the child did not report {', '.join(missing)}: {out.stdout!r}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    results: dict[str, list[float]] = {"first-paint": [], "first-paint (demo)": [],
                                       "demo-tree": []}
    try:
        one_run(demo=True)  # warm-up: imports compiled, files cached
        for _ in range(args.runs):
            results["first-paint"].append(one_run(demo=False)["first-paint"])
            demo = one_run(demo=True)
            results["first-paint (demo)"].append(demo["first-paint"])
            results["demo-tree"].append(demo["demo-tree"])
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"app_start: a run failed: {exc}", file=sys.stderr)
        return 1
    print(f"Binnacle start-up, median of {args.runs} runs (offscreen, Python "
          f"{sys.version.split()[0]}):")
    for name, values in results.items():
        median = statistics.median(values)
        target = TARGETS.get(name.split(" ")[0])
        verdict = f"target ≤ {target:.1f} s: {'met' if median <= target else 'MISSED'}" \
            if target else ""
        spread = f"min {min(values):.3f}, max {max(values):.3f}"
        print(f"  {name:<20} {median:.3f} s  ({spread})  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
