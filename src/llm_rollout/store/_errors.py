"""sqlite3 errors as StoreError: what failed, where, and what to do about it."""

from __future__ import annotations

import sqlite3

from ..errors import ConflictError, StoreError


def mapped_error(exc: sqlite3.Error, action: str, where: str, busy_timeout: float) -> StoreError:
    """A clear StoreError for a sqlite3 error: what failed, where, and what to do."""
    code = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        return ConflictError(f"cannot {action}: {text}")
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return StoreError(
            f"cannot {action}: the store {where} is locked by another process or "
            f"connection (gave up after {busy_timeout:g} s); retry, or look for a "
            "stuck writer"
        )
    if code.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or "not a database" in text:
        return StoreError(
            f"cannot {action}: {where} is not an llm-rollout store or is damaged ({text}); "
            "move it aside or restore it from a backup"
        )
    if code.startswith("SQLITE_FULL"):
        return StoreError(f"cannot {action}: the disk holding {where} is full")
    if code.startswith("SQLITE_READONLY"):
        return StoreError(f"cannot {action}: {where} is read-only ({text})")
    if code.startswith("SQLITE_CANTOPEN"):
        return StoreError(
            f"cannot {action}: cannot open {where}; check that its directory exists and is writable"
        )
    if code.startswith("SQLITE_IOERR"):
        return StoreError(f"cannot {action}: disk I/O error on {where} ({text})")
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in text:
        return StoreError(f"cannot {action}: the store {where} is closed")
    return StoreError(f"cannot {action} ({where}): {text}")
