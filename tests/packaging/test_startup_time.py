"""packaging/startup_time.py: times real child processes and fails loudly on a bad start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "packaging" / "startup_time.py"


def run_timer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, timeout=120)


def test_medians_of_a_command_that_prints_the_line() -> None:
    child = "import sys; print('noise'); print('binnacle smoke test: ok', flush=True)"
    result = run_timer("--runs", "3", "--label", "fake", "--", sys.executable, "-c", child)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("fake: run ") for line in lines) == 3
    assert "binnacle smoke test: ok" in lines[0]
    assert lines[-1].startswith("fake: median of 3: line (first paint) ")


def test_a_nonzero_exit_fails_and_shows_the_output() -> None:
    child = "import sys; print('binnacle smoke test: ok'); sys.stderr.write('boom'); sys.exit(3)"
    result = run_timer("--runs", "2", "--", sys.executable, "-c", child)
    assert result.returncode == 1
    assert "run 1" in result.stderr and "exit code 3" in result.stderr and "boom" in result.stderr


def test_a_missing_line_fails() -> None:
    result = run_timer("--runs", "1", "--expect", "^never$", "--", sys.executable, "-c", "pass")
    assert result.returncode == 1 and "no line matching" in result.stderr


def test_a_hanging_command_is_killed_at_the_timeout() -> None:
    child = "import time; time.sleep(60)"
    result = run_timer("--runs", "1", "--timeout", "1", "--", sys.executable, "-c", child)
    assert result.returncode == 1 and "exit code -9" in result.stderr


def test_no_command_is_a_usage_error() -> None:
    result = run_timer("--runs", "1")
    assert result.returncode == 2 and "command" in result.stderr
