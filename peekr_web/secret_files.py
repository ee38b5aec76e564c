"""Secrets Peekr generates into PEEKR_DATA_DIR on a laptop (the Django secret key, the first admin password):
owner-only files (0600), created with that mode so that they are never readable by others, not even briefly.

No Django imports: settings.py uses this module before Django is configured.
"""

from __future__ import annotations

import os
from pathlib import Path

MODE = 0o600


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def secret_write(path: Path, text: str) -> None:
    """Replace path's content with text, atomically, as an owner-only file."""
    tmp = _temp_beside(path)
    tmp.unlink(missing_ok=True)
    _write_private(tmp, text)
    os.replace(tmp, path)


def secret_read_or_create(path: Path, make) -> str:
    """The secret kept in path; the first caller creates it with make(). Safe when several processes start at
    once: the file appears whole (hard-linked from a private temporary file) and only the first one wins."""
    if not path.exists():
        tmp = _temp_beside(path)
        tmp.unlink(missing_ok=True)
        _write_private(tmp, make())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
    secret_tighten(path)
    return path.read_text().strip()


def secret_tighten(path: Path) -> None:
    """Make an existing secret file owner-only (installs before 0600 wrote them 0644)."""
    if path.exists() and path.stat().st_mode & 0o077:
        path.chmod(MODE)
