"""A checkout without the specification data: the runners skip with the reason, or fail in CI.

A newcomer who clones the repository has no ``../shared/specs``. Every spec runner must
then collect, and give one skip per test function naming the missing folder, never a
collection error; with ``CI=true`` (where the data is always there) the same absence is
a failure. Each case runs the runners in a pytest subprocess with ``BINNACLE_SPECS``
pointing at an empty folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.specdata import ROOT, SPEC_RUNNERS


def run_runners(empty: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["BINNACLE_SPECS"] = str(empty)
    env["QT_QPA_PLATFORM"] = "offscreen"
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *SPEC_RUNNERS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def empty_specs(tmp_path: Path) -> Path:
    folder = tmp_path / "no-specs-here"
    folder.mkdir()
    return folder


def test_without_spec_data_every_runner_skips_with_the_reason(empty_specs: Path) -> None:
    out = run_runners(empty_specs, ci=False)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "error" not in out.stdout.splitlines()[-1].lower(), text[-3000:]
    assert " skipped" in out.stdout.splitlines()[-1], text[-3000:]
    for suite in ("bson-corpus", "connection-string", "uri-options",
                  "initial-dns-seedlist-discovery", "server-discovery-and-monitoring",
                  "server-selection", "connection-monitoring-and-pooling"):
        assert f"specification data not found at {empty_specs / suite}" in text, suite


def test_in_ci_missing_spec_data_is_a_failure(empty_specs: Path) -> None:
    out = run_runners(empty_specs, ci=True)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text[-3000:]
    assert f"specification data not found at {empty_specs / 'bson-corpus'}" in text
    assert " skipped" not in out.stdout.splitlines()[-1], text[-3000:]
