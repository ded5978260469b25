"""The live control plane around the pure controller: :class:`ControllerService` (the loop
with a leader lease, :mod:`.controller`) and its admin HTTP API (:mod:`.admin`)."""

from .controller import ControllerService

__all__ = ["ControllerService"]
