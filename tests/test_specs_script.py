"""``scripts/specs``: fetching the specification data into a cache outside the checkout.

Against a real git repository made here in the layout of mongodb/specifications
(``source/<suite>/tests/…``): the script fetches the pinned commit, lays it out as the
runners read it, prints the folder, reuses it on a second run without fetching, and with
an unreachable repository says why and exits 2, leaving no half-made cache behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.specdata import ROOT

SCRIPT = ROOT / "scripts" / "specs"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def upstream(tmp_path: Path) -> tuple[Path, str]:
    """A repository shaped like mongodb/specifications, with one commit; (path, sha)."""
    repo = tmp_path / "specifications"
    (repo / "source" / "bson-corpus" / "tests").mkdir(parents=True)
    (repo / "source" / "bson-corpus" / "tests" / "int32.json").write_text(
        json.dumps({"description": "Int32", "valid": []}))
    (repo / "source" / "server-selection" / "tests" / "rtt").mkdir(parents=True)
    (repo / "source" / "server-selection" / "tests" / "rtt" / "first.json").write_text("{}")
    (repo / "source" / "server-selection" / "server-selection.md").write_text("prose")
    (repo / "LICENSE.md").write_text("licence text")
    git("init", "-q", cwd=repo)
    git("add", ".", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "data", cwd=repo)
    return repo, git("rev-parse", "HEAD", cwd=repo)


def run_script(tmp_path: Path, repository: str, commit: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BINNACLE_SPECS_REPO": repository, "BINNACLE_SPECS_COMMIT": commit,
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "BINNACLE_SPECS_FETCH_TIMEOUT": "30"}
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True,
                          text=True, timeout=120)


def test_fetches_the_commit_into_the_cache_in_the_runners_layout(
        tmp_path: Path, upstream: tuple[Path, str]) -> None:
    repo, sha = upstream
    out = run_script(tmp_path, repo.as_uri(), sha)
    assert out.returncode == 0, out.stderr
    folder = Path(out.stdout.strip())
    assert folder == tmp_path / "cache" / "binnacle" / f"specs-{sha}"
    assert json.loads((folder / "bson-corpus" / "int32.json").read_text())["description"] == "Int32"
    assert (folder / "server-selection" / "rtt" / "first.json").is_file()
    assert not (folder / "server-selection" / "server-selection.md").exists()  # tests only
    assert (folder / "LICENSE-specifications.md").read_text() == "licence text"
    assert "fetching" in out.stderr and "2 test files ready" in out.stderr
    assert ROOT not in folder.resolve().parents  # never inside the checkout


def test_a_second_run_uses_the_cache(tmp_path: Path, upstream: tuple[Path, str]) -> None:
    repo, sha = upstream
    assert run_script(tmp_path, repo.as_uri(), sha).returncode == 0
    shutil.rmtree(repo)  # nothing left to fetch from
    again = run_script(tmp_path, repo.as_uri(), sha)
    assert again.returncode == 0, again.stderr
    assert "using the cached specification data" in again.stderr
    assert Path(again.stdout.strip()).is_dir()


def test_offline_says_why_and_leaves_no_cache(tmp_path: Path) -> None:
    out = run_script(tmp_path, (tmp_path / "nowhere").as_uri(), "0" * 40)
    assert out.returncode == 2
    assert out.stdout == ""
    assert "could not fetch the specification data" in out.stderr
    assert "the spec runners will skip" in out.stderr
    cache = tmp_path / "cache" / "binnacle"
    assert not cache.exists() or [p.name for p in cache.iterdir()] == []
