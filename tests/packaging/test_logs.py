"""app/logs.py: the log folder per platform, size-capped rotation, and redaction.

Real files in a temporary folder, real ``logging`` records: what is checked is the bytes
that end up on disk.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import logs
from app.logs import default_log_dir, redact, setup_logging, teardown_logging

SECRETS = ("s3cretPW", "keyfilePW", "hunter2", "tok3n")


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """Leave the root logger and sys.excepthook as they were, whatever a test did."""
    root = logging.getLogger()
    level, hook = root.level, sys.excepthook
    try:
        yield
    finally:
        teardown_logging()
        root.setLevel(level)
        sys.excepthook = hook


def all_log_text(folder: Path) -> str:
    return "".join(path.read_text(encoding="utf-8") for path in sorted(folder.iterdir()))


def test_rotation_caps_each_file_and_keeps_a_few(tmp_path: Path, clean_logging: None) -> None:
    path = setup_logging(tmp_path, max_bytes=4096, backup_count=2, capture_uncaught=False)
    assert path == tmp_path / "binnacle.log"
    logger = logging.getLogger("binnacle.test")
    for index in range(400):  # ~40 kB through a 3 x 4 kB window
        logger.info("line %04d %s", index, "x" * 60)
    teardown_logging()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["binnacle.log", "binnacle.log.1", "binnacle.log.2"]
    for name in names:
        assert 0 < (tmp_path / name).stat().st_size <= 4096, name
    # Newest lines in the current file, older ones in .1; the oldest were dropped.
    assert "line 0399" in (tmp_path / "binnacle.log").read_text(encoding="utf-8")
    assert "line 0000" not in all_log_text(tmp_path)


def test_no_password_reaches_the_file(tmp_path: Path, clean_logging: None) -> None:
    setup_logging(tmp_path, capture_uncaught=False)
    logger = logging.getLogger("binnacle.test")
    uri = ("mongodb://alice:s3cretPW@db1.example.net:27017,db2.example.net/"
           "?tls=true&tlsCertificateKeyFilePassword=keyfilePW")
    logger.info("connecting to %s", uri)
    logger.warning(f"formatted early: {uri}")
    logger.info("options %r", {"username": "alice", "password": "hunter2"})
    logger.info("aws: mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN:tok3n")
    try:
        raise ConnectionError(f"could not reach {uri}")
    except ConnectionError:
        logger.exception("connect failed")
    teardown_logging()
    text = all_log_text(tmp_path)
    for secret in SECRETS:
        assert secret not in text
    assert "mongodb://alice:****@db1.example.net:27017" in text  # user and hosts stay
    assert "tlsCertificateKeyFilePassword=****" in text
    assert "Traceback" in text and "ConnectionError" in text


def test_uncaught_exceptions_are_logged_redacted_and_the_hook_restored(
    tmp_path: Path, clean_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[BaseException] = []

    def previous_hook(kind: type[BaseException], value: BaseException, trace: object) -> None:
        seen.append(value)

    # pytest-qt has its own hook installed; stand a recording one in for it.
    monkeypatch.setattr(sys, "excepthook", previous_hook)
    setup_logging(tmp_path)
    assert sys.excepthook is not previous_hook
    error = RuntimeError("lost mongodb://bob:s3cretPW@h")
    sys.excepthook(RuntimeError, error, None)
    assert seen == [error]  # the previous hook still ran
    teardown_logging()
    assert sys.excepthook is previous_hook
    text = all_log_text(tmp_path)
    assert "uncaught exception" in text and "bob:****@h" in text
    assert "s3cretPW" not in text


def test_setting_up_twice_keeps_one_handler(tmp_path: Path, clean_logging: None) -> None:
    setup_logging(tmp_path / "a", capture_uncaught=False)
    setup_logging(tmp_path / "b", capture_uncaught=False)
    ours = [h for h in logging.getLogger().handlers if h.get_name() == "binnacle-file-log"]
    assert len(ours) == 1
    logging.getLogger("binnacle.test").warning("only once")
    teardown_logging()
    assert "only once" not in all_log_text(tmp_path / "a")
    assert all_log_text(tmp_path / "b").count("only once") == 1


@pytest.mark.skipif(os.name != "posix", reason="folder permissions are POSIX modes")
def test_log_folder_is_private(tmp_path: Path, clean_logging: None) -> None:
    folder = tmp_path / "logs"
    setup_logging(folder, capture_uncaught=False)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_an_unwritable_folder_is_not_fatal(
    tmp_path: Path, clean_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert setup_logging(blocker / "logs", capture_uncaught=False) is None
    assert "no log file" in capsys.readouterr().err


def test_bad_arguments_name_the_bad_part(
    tmp_path: Path, clean_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        setup_logging(tmp_path, max_bytes=10)
    with pytest.raises(ValueError, match="backup_count"):
        setup_logging(tmp_path, backup_count=0)
    monkeypatch.setenv(logs.LOG_LEVEL_ENV, "LOUD")
    with pytest.raises(ValueError, match="BINNACLE_LOG_LEVEL.*LOUD"):
        setup_logging(tmp_path)


def test_log_level_from_the_environment(
    tmp_path: Path, clean_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(logs.LOG_LEVEL_ENV, "debug")
    setup_logging(tmp_path, capture_uncaught=False)
    logging.getLogger("binnacle.test").debug("a debug line")
    teardown_logging()
    assert "a debug line" in all_log_text(tmp_path)


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", {}, "/home/u/.local/state/Binnacle/logs"),
        ("linux", {"XDG_STATE_HOME": "/xdg/state"}, "/xdg/state/Binnacle/logs"),
        ("linux", {"XDG_STATE_HOME": "relative/ignored"}, "/home/u/.local/state/Binnacle/logs"),
        ("freebsd14", {}, "/home/u/.local/state/Binnacle/logs"),
        ("darwin", {}, "/home/u/Library/Logs/Binnacle"),
        ("win32", {"LOCALAPPDATA": "/c/Users/u/AppData/Local"},
         "/c/Users/u/AppData/Local/Binnacle/Binnacle/logs"),
        ("win32", {}, "/home/u/AppData/Local/Binnacle/Binnacle/logs"),
        ("darwin", {"BINNACLE_LOG_DIR": "/portable/logs"}, "/portable/logs"),
    ],
)
def test_default_log_dir_follows_each_platform(
    platform: str, environ: dict[str, str], expected: str
) -> None:
    folder = default_log_dir(platform, environ, Path("/home/u"))
    assert folder.as_posix() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mongodb+srv://u:p%40ss@c.example.net/db", "mongodb+srv://u:****@c.example.net/db"),
        ("mongodb://u:p@ss/w@h:1/", "mongodb://u:****@h:1/"),  # unescaped '@' and '/'
        ("mongodb://u@h/db", "mongodb://u@h/db"),  # no password: unchanged
        ("mongodb://h:27017/db?w=majority", "mongodb://h:27017/db?w=majority"),
        ("'mongodb://a:b@h'", "'mongodb://a:****@h'"),
        ('{"pwd": "x1", "n": 1}', "{\"pwd\": '****', \"n\": 1}"),
        ("Passphrase = abc def", "Passphrase = **** def"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_importing_logs_loads_no_qt() -> None:
    code = ("import sys, app.logs; "
            "loaded = [m for m in sys.modules if m.startswith('PySide6')]; "
            "print(loaded); raise SystemExit(1 if loaded else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_log_files_are_private_to_their_owner(tmp_path: Path, clean_logging: None) -> None:
    old = tmp_path / "binnacle.log"
    old.write_text("from an older version\n")
    old.chmod(0o644)
    path = setup_logging(tmp_path, max_bytes=2048, backup_count=2, capture_uncaught=False)
    assert path is not None
    for index in range(200):
        logging.getLogger("binnacle.test").warning("line %d %s", index, "x" * 40)
    teardown_logging()
    files = sorted(tmp_path.glob("binnacle.log*"))
    assert len(files) >= 2  # rotated at least once
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
