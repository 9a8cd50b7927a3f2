"""Finding the official specification test data for the spec runners.

The data stays in ``../shared/specs`` (its licence forbids copying it here); set
``BINNACLE_SPECS`` to read it from elsewhere. Where it is missing, a runner gets one
parameter that skips with the reason, or fails when ``CI=true``, where the data is
always present and its absence is a broken checkout, not a reason to pass.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The modules that run the official specification test data (../shared/specs).
SPEC_RUNNERS = (
    "tests/bson/test_corpus.py",
    "tests/uri/test_spec_uri.py",
    "tests/uri/test_spec_dns_seedlist.py",
    "tests/spec/test_sdam.py",
    "tests/spec/test_sdam_unified.py",
    "tests/spec/test_server_selection.py",
    "tests/spec/test_cmap.py",
)


def specs_dir() -> Path:
    """``$BINNACLE_SPECS`` or ``../shared/specs`` beside the checkout."""
    override = os.environ.get("BINNACLE_SPECS")
    return Path(override) if override else ROOT.parent / "shared" / "specs"


def missing(suite: str) -> None:
    """Skip (or, in CI, fail) because ``suite`` is not there."""
    message = f"specification data not found at {specs_dir() / suite} (set BINNACLE_SPECS)"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def spec_files(suite: str, pattern: str = "*.json") -> list[Path]:
    """The JSON files of a suite (``pattern`` may contain ``**``), sorted; [] if absent."""
    folder = specs_dir() / suite
    if not folder.is_dir():
        return []
    return sorted(folder.glob(pattern))


def load(path: Path) -> Any:
    """Parse one spec file."""
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


MISSING_ID = "spec-data-missing"


def params_or_missing(params: list[Any], width: int = 1) -> list[Any]:
    """``params`` when non-empty, else one placeholder parameter of ``width`` ``None``
    values (as many as the test's parametrize names) whose test should call
    ``missing(suite)`` when it receives ``None``."""
    return params if params else [pytest.param(*([None] * width), id=MISSING_ID)]
