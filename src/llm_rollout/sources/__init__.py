"""Window sources: where the judge's observations come from (the seam is in :mod:`.base`).

:func:`open_source` is the factory, keyed by :attr:`WindowSource.kind`::

    source = open_source("store", store=store)  # records the gateway wrote
    source = open_source("memory")              # columns appended in memory (simulator, tests)
"""

from __future__ import annotations

from ..errors import SourceError
from ..store.base import RecordStore
from .base import WindowSource
from .memory import ArmColumns, InMemorySource, Observed
from .store import RecordStoreSource

KINDS = ("store", "memory")

__all__ = [
    "KINDS",
    "ArmColumns",
    "InMemorySource",
    "Observed",
    "RecordStoreSource",
    "WindowSource",
    "open_source",
]


def open_source(kind: str, *, store: RecordStore | None = None) -> WindowSource:
    """The window source of this kind; SourceError for an unknown kind or a missing input."""
    if kind == "store":
        if store is None:
            raise SourceError("the 'store' window source needs a record store")
        return RecordStoreSource(store)
    if kind == "memory":
        return InMemorySource()
    raise SourceError(f"unknown window source {kind!r}; expected one of {', '.join(KINDS)}")
