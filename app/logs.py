"""Binnacle's log files: rotating, size-capped, in the platform's usual log folder.

``setup_logging()`` (called once by ``app.main`` at start-up) attaches one rotating file
handler to the root logger and returns the log file's path. The folder follows each
platform's convention, worked out from environment variables so this module never
imports Qt (``--help`` and ``--version`` stay fast, and logging can start before the
``QApplication`` exists):

* Linux and other Unix: ``$XDG_STATE_HOME/Binnacle/logs``, by default
  ``~/.local/state/Binnacle/logs`` (the XDG Base Directory spec puts logs in the
  state directory; Qt's ``QStandardPaths.StateLocation`` points to the same folder);
* macOS: ``~/Library/Logs/Binnacle`` (where Console.app looks);
* Windows: ``%LOCALAPPDATA%\\Binnacle\\Binnacle\\logs`` (next to Qt's
  ``AppLocalDataLocation`` for organisation and application "Binnacle");
* ``BINNACLE_LOG_DIR`` overrides all of them (tests, portable installs).

Every line goes through ``redact()`` after formatting, so a password can never reach
the file, whether it came in a message, an argument or a traceback: the password of a
``scheme://user:password@host`` URI becomes ``****``, and so do the values of
``password=``-like options, ``AWS_SESSION_TOKEN:`` and ``'password': ...`` entries
of dict reprs.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from pathlib import Path
from types import TracebackType

LOG_DIR_ENV = "BINNACLE_LOG_DIR"
LOG_LEVEL_ENV = "BINNACLE_LOG_LEVEL"
APP_NAME = "Binnacle"
LOG_FILE_NAME = "binnacle.log"
DEFAULT_MAX_BYTES = 1_000_000  # per file
DEFAULT_BACKUP_COUNT = 3  # binnacle.log.1 .. .3 besides binnacle.log: 4 MB at most
MASK = "****"
_HANDLER_NAME = "binnacle-file-log"
LINE_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"

# user:password@ in any URI (mongodb://, mongodb+srv://, http://, ...). The user part
# stops at the first ':' and the password runs to the last '@' of the token, since an
# unescaped '@' or '/' in a password is a common mistake that must still not leak (the
# price: a URI with an '@' in its options loses a little more than its password).
_URI_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:@/\s'\"]*:)(?P<secret>[^\s'\"]*)@"
)
# password=... style options (tlsCertificateKeyFilePassword=, pwd=, passphrase=, secret=).
_OPTION_PASSWORD = re.compile(
    r"(?P<head>\b[\w.\-]*(?:password|passwd|pwd|passphrase|secret)\s*=\s*)(?P<secret>[^&;\s,'\"]+)",
    re.IGNORECASE,
)
# AWS_SESSION_TOKEN:xyz inside authMechanismProperties.
_SESSION_TOKEN = re.compile(r"(?P<head>AWS_SESSION_TOKEN\s*[:=]\s*)(?P<secret>[^,&;\s'\"]+)",
                            re.IGNORECASE)
# 'password': 'x' or "pwd": "x" in dict reprs and JSON.
_MAPPING_PASSWORD = re.compile(
    r"(?P<head>['\"][\w.\-]*(?:password|passwd|pwd|passphrase|secret)['\"]\s*:\s*)"
    r"(?P<secret>'[^']*'|\"[^\"]*\"|b'[^']*'|[^\s,}]+)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with every password-looking part replaced by ``****``."""
    text = _URI_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    text = _OPTION_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)
    text = _SESSION_TOKEN.sub(lambda m: f"{m['head']}{MASK}", text)
    return _MAPPING_PASSWORD.sub(lambda m: f"{m['head']}'{MASK}'", text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line (message, arguments, traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def default_log_dir(
    platform: str | None = None,
    environ: dict[str, str] | os._Environ[str] | None = None,
    home: Path | None = None,
) -> Path:
    """The platform's usual folder for Binnacle's logs (not created here)."""
    env = os.environ if environ is None else environ
    override = env.get(LOG_DIR_ENV)
    if override:
        return Path(override)
    platform = sys.platform if platform is None else platform
    home = Path.home() if home is None else home
    if platform.startswith("win"):
        local = env.get("LOCALAPPDATA")
        local_base = Path(local) if local else home / "AppData" / "Local"
        return local_base / APP_NAME / APP_NAME / "logs"
    if platform == "darwin":
        return home / "Library" / "Logs" / APP_NAME
    state = env.get("XDG_STATE_HOME")
    # The XDG spec says a relative path there is invalid and must be ignored.
    base = Path(state) if state and Path(state).is_absolute() else home / ".local" / "state"
    return base / APP_NAME / "logs"


def _level_from_env(default: int) -> int:
    name = os.environ.get(LOG_LEVEL_ENV, "").strip().upper()
    if not name:
        return default
    level = logging.getLevelName(name)
    if not isinstance(level, int):
        raise ValueError(
            f"{LOG_LEVEL_ENV} must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {name!r}"
        )
    return level


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files only their owner can read (0600 on POSIX), like the
    data files: the folder's 0700 alone does not protect a file copied elsewhere."""

    def _open(self):  # type: ignore[no-untyped-def]
        if os.name != "posix":
            return super()._open()
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)  # an older file made before this rule
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)  # noqa: SIM115


def setup_logging(
    folder: Path | None = None,
    *,
    level: int = logging.INFO,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backup_count: int = DEFAULT_BACKUP_COUNT,
    capture_uncaught: bool = True,
) -> Path | None:
    """Send log records to a rotating file; returns its path (None if it can't be written).

    Calling it again replaces the handler it added before (no doubled lines). A folder
    that cannot be created is not fatal: Binnacle runs without a log file and says so
    on stderr (when there is one: a windowed Windows bundle has none).
    ``BINNACLE_LOG_LEVEL`` (e.g. ``DEBUG``) overrides ``level``.
    """
    if max_bytes < 1024:
        raise ValueError(f"max_bytes must be at least 1024, not {max_bytes}")
    if not 1 <= backup_count <= 20:
        raise ValueError(f"backup_count must be between 1 and 20, not {backup_count}")
    level = _level_from_env(level)
    folder = default_log_dir() if folder is None else folder
    teardown_logging()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.name == "posix":
            # Logs name hosts and users: keep them to their owner (other users of
            # the machine have no business reading them).
            folder.chmod(0o700)
        path = folder / LOG_FILE_NAME
        handler = PrivateRotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
        )
    except OSError as exc:
        if sys.stderr is not None:
            print(f"binnacle: no log file ({redact(str(exc))})", file=sys.stderr)
        return None
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(RedactingFormatter(LINE_FORMAT))
    handler.setLevel(level)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    if capture_uncaught:
        _install_excepthook()
    logging.getLogger("binnacle").info("log started (pid %d)", os.getpid())
    return path


def teardown_logging() -> None:
    """Remove and close the handler ``setup_logging`` added, and its exception hook."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
            handler.close()
    if getattr(sys.excepthook, "_binnacle_previous", None) is not None:
        sys.excepthook = sys.excepthook._binnacle_previous  # type: ignore[attr-defined]


def _install_excepthook() -> None:
    previous = sys.excepthook

    def log_uncaught(
        kind: type[BaseException], value: BaseException, trace: TracebackType | None
    ) -> None:
        # An exception escaping a Qt slot ends up here; keep it in the log (where a
        # user can find it after a crash) and let the previous hook print it too.
        if not issubclass(kind, KeyboardInterrupt):
            logging.getLogger("binnacle").critical(
                "uncaught exception", exc_info=(kind, value, trace)
            )
        previous(kind, value, trace)

    log_uncaught._binnacle_previous = previous  # type: ignore[attr-defined]
    sys.excepthook = log_uncaught

