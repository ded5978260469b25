"""The ``--home`` option's type: a store directory, ``:memory:`` or a database URL.

``click.Path`` would normalise ``postgresql://host/db`` into ``postgresql:/host/db``; this
keeps a URL as written and expands ``~`` in a directory."""

from __future__ import annotations

import os

from ..store import is_database_url


def store_home_option(value: str) -> str:
    """click calls this with the option's text; a ValueError becomes a usage error."""
    if not value:
        raise ValueError("the store home is empty")
    return value if is_database_url(value) else os.path.expanduser(value)
