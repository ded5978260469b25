"""Where llm-rollout keeps models, policy, rollouts, records and leases.

:func:`open_store` is the one entry point the CLI, gateway and controller use::

    store = open_store()            # $LLM_ROLLOUT_HOME, else ./.llm-rollout/, file store.db
    store = open_store("/srv/llm")  # an explicit home directory
    store = open_store(":memory:")  # a private in-memory store (tests, demos)
    store = open_store("postgresql://user@db.internal/rollouts")  # the shared PostgreSQL store
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import StoreError
from .base import ControlStore, Event, PolicyVersion, RecordStore, RolloutRow, Store
from .sqlite import MEMORY, SQLiteStore

HOME_ENV = "LLM_ROLLOUT_HOME"
DEFAULT_HOME = Path(".llm-rollout")
DB_FILE = "store.db"

__all__ = [
    "DB_FILE",
    "DEFAULT_HOME",
    "HOME_ENV",
    "ControlStore",
    "Event",
    "PolicyVersion",
    "RecordStore",
    "RolloutRow",
    "SQLiteStore",
    "Store",
    "home_label",
    "is_database_url",
    "open_store",
    "store_home",
]


def store_home(home: str | Path | None = None, env: Mapping[str, str] | None = None) -> str | Path:
    """The home in force: the argument, else ``$LLM_ROLLOUT_HOME``, else ``./.llm-rollout``."""
    if home is not None and str(home) != "":
        return home
    value = (os.environ if env is None else env).get(HOME_ENV, "")
    return value if value else DEFAULT_HOME


def is_database_url(home: str | Path) -> bool:
    """Whether ``home`` names a database server (``postgresql://``) rather than a directory."""
    return str(home).startswith(("postgresql://", "postgres://"))


def home_label(home: str | Path) -> str:
    """``home`` as it may be printed: a URL without its password, a directory as it is."""
    if not is_database_url(home):
        return str(home)
    from ._pg_errors import describe  # psycopg parses the URL: only for a database home

    return describe(str(home))


def open_store(home: str | Path | None = None, env: Mapping[str, str] | None = None) -> Store:
    """Open (creating and migrating as needed) the store kept in ``home``.

    ``home`` is a directory (created if missing; the database is ``store.db`` in it),
    ``":memory:"``, or a ``postgresql://`` (or ``postgres://``) URL of a shared database.
    ``env`` replaces ``os.environ`` (read at call time, never at import).
    """
    where = store_home(home, env)
    text = str(where)
    if text == MEMORY:
        return SQLiteStore(MEMORY)
    if is_database_url(text):
        return _open_postgres(text)
    directory = Path(where).expanduser()
    if directory.exists() and not directory.is_dir():
        raise StoreError(f"the store home {directory} is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the store directory {directory}: {exc.strerror}") from exc
    return SQLiteStore(directory / DB_FILE)


def _open_postgres(url: str) -> Store:
    # Imported here: psycopg is the optional `postgres` extra, needed only for such a URL.
    try:
        from .postgres import PostgresStore
    except ImportError as exc:
        raise StoreError(
            "a postgresql:// store needs psycopg: install llm-rollout[postgres]"
        ) from exc
    return PostgresStore(url)
