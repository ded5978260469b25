"""psycopg errors as StoreError, and a connection URL that is safe to print.

A PostgreSQL URL may carry a password (``postgresql://user:secret@host/db`` or
``?password=``): every message and ``repr`` names the server through :func:`describe`, and
:func:`mapped_error` scrubs the password from the driver's own text as well.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from ..errors import ConflictError, StoreError


def describe(url: str) -> str:
    """``postgresql://user@host:port/dbname``: the URL without its password or options."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparseable URL)"
    user = parts.get("user")
    host = parts.get("host") or "localhost"
    port = parts.get("port")
    where = f"{host}:{port}" if port else str(host)
    return f"postgresql://{f'{user}@' if user else ''}{where}/{parts.get('dbname') or ''}"


def password_of(url: str) -> str | None:
    try:
        value = conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        return None
    return str(value) if value else None


def scrub(text: str, password: str | None) -> str:
    return text.replace(password, "***") if password else text


def mapped_error(
    exc: psycopg.Error, action: str, where: str, password: str | None = None
) -> StoreError:
    """A clear StoreError for a psycopg error: what failed, where, and what to do."""
    text = scrub(str(exc).strip(), password)
    if isinstance(exc, pg_errors.IntegrityError):
        return ConflictError(f"cannot {action}: {text}")
    if isinstance(exc, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
        return ConflictError(f"cannot {action}: a concurrent transaction got there first; retry")
    if isinstance(exc, pg_errors.LockNotAvailable | pg_errors.QueryCanceled):
        return StoreError(
            f"cannot {action}: the store {where} is locked by another connection or the "
            f"statement timed out ({text}); retry, or look for a stuck transaction"
        )
    if isinstance(exc, pg_errors.InvalidPassword | pg_errors.InvalidAuthorizationSpecification):
        return StoreError(f"cannot {action}: {where} refused the credentials ({text})")
    if isinstance(exc, pg_errors.InvalidCatalogName):
        return StoreError(f"cannot {action}: the database of {where} does not exist ({text})")
    if isinstance(exc, pg_errors.DiskFull):
        return StoreError(f"cannot {action}: the disk of {where} is full")
    if isinstance(exc, pg_errors.ReadOnlySqlTransaction):
        return StoreError(f"cannot {action}: {where} is read-only ({text})")
    if isinstance(exc, psycopg.OperationalError):
        return StoreError(
            f"cannot {action}: cannot reach PostgreSQL at {where} ({text}); check that the "
            "server is running and the URL is right"
        )
    return StoreError(f"cannot {action} ({where}): {text}")
