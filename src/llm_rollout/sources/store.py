"""The record store as a window source: the records the gateway writes, one row per call."""

from __future__ import annotations

from ..errors import SourceError, StoreError
from ..records import Role, Window, WindowQuery
from ..store.base import RecordStore


class RecordStoreSource:
    """Reads windows with :meth:`RecordStore.read_window` (one indexed range scan per arm)."""

    kind = "store"

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def read_window(self, query: WindowQuery) -> Window:
        try:
            baseline, candidate = self.store.read_window(
                query.rollout_id, query.step, query.role, query.start, query.end
            )
        except StoreError as exc:
            raise SourceError(f"cannot read the window from the record store: {exc}") from exc
        return Window(baseline, candidate, query.candidate_weight, query.start, query.end)

    def check(self) -> None:
        """A read of an empty window: it fails exactly when judging a real one would."""
        self.read_window(WindowQuery("", 0, Role.SERVE, 0.0, 0.0, 0.0))
