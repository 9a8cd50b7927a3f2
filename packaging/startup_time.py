"""Start a command several times and time it: until its smoke-test line, and until exit.

    python3 packaging/startup_time.py --runs 5 -- build/dist/binnacle/binnacle --smoke-test

``binnacle --smoke-test`` prints its line from the first turn of the event loop after
``window.show()``, so the time to that line is the time to the first paint, as near as
an offscreen run can tell. Each run must exit 0 and print a line matching ``--expect``;
otherwise the script says which run failed, shows its output and exits 1. The last
line printed is a summary of the medians, for CI logs and the README.

Standard library only (POSIX: CPU time comes from ``resource``), so it runs with any
Python 3.11+ on Linux or macOS.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    """One start of the command: seconds to the expected line and to exit, CPU seconds
    (user + system, which a busy machine disturbs less than wall time), and output."""

    first_line_s: float | None
    total_s: float
    cpu_s: float
    returncode: int
    stdout: str
    stderr: str


def run_once(command: list[str], expect: re.Pattern[str], timeout_s: float) -> Run:
    """Start ``command``, timestamp the first stdout line matching ``expect``, wait for exit."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as errors:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
            text=True, encoding="utf-8", errors="replace",
        )
        timer = threading.Timer(timeout_s, process.kill)
        timer.start()
        first_line_s = None
        lines = []
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if first_line_s is None and expect.search(line):
                    first_line_s = time.perf_counter() - started
            returncode = process.wait()
            total_s = time.perf_counter() - started
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        errors.seek(0)
        return Run(first_line_s, total_s, cpu_s, returncode, "".join(lines), errors.read())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time a command's start-up.")
    parser.add_argument("--runs", type=int, default=5, help="how many starts (default 5)")
    parser.add_argument("--expect", default=r"^binnacle smoke test: ",
                        help="regex the line to time must match (default: the smoke line)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    parser.add_argument("--label", default="startup", help="name in the summary line")
    parser.add_argument("--what", default="first paint",
                        help="what the expected line marks, for the summary line")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to time after --")
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, not {args.runs}")
    expect = re.compile(args.expect, re.MULTILINE)

    firsts, totals, cpus = [], [], []
    for index in range(1, args.runs + 1):
        run = run_once(command, expect, args.timeout)
        if run.returncode != 0 or run.first_line_s is None:
            what = (f"exit code {run.returncode}" if run.returncode != 0
                    else f"no line matching {args.expect!r}")
            print(f"{args.label}: run {index} of {' '.join(command)} failed: {what}",
                  file=sys.stderr)
            print(f"--- stdout\n{run.stdout}--- stderr\n{run.stderr}---", file=sys.stderr)
            return 1
        line = next(text for text in run.stdout.splitlines() if expect.search(text))
        print(f"{args.label}: run {index}: line after {run.first_line_s * 1000:.0f} ms, "
              f"exit after {run.total_s * 1000:.0f} ms, CPU {run.cpu_s * 1000:.0f} ms: {line}")
        firsts.append(run.first_line_s)
        totals.append(run.total_s)
        cpus.append(run.cpu_s)
    print(f"{args.label}: median of {args.runs}: line ({args.what}) "
          f"{statistics.median(firsts) * 1000:.0f} ms, exit {statistics.median(totals) * 1000:.0f} ms, "
          f"CPU {statistics.median(cpus) * 1000:.0f} ms", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
