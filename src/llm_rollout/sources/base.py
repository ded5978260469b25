"""The window-source seam: where the judge's observations come from.

A source answers one question, "what did each arm do in this window?", for a
:class:`~llm_rollout.records.WindowQuery` (rollout, step, role, time range, intended weight).
The controller decides which window a check judges; the source only reads it. Sources today:

- ``store``: the record store the gateway writes (:mod:`.store`);
- ``memory``: columns held in memory, appended as traffic happens: the simulator's arms, and a
  source for tests (:mod:`.memory`).

A new source (Prometheus histograms and counters, OpenTelemetry spans, a LiteLLM log) is one
module here implementing :class:`WindowSource`, one entry in :data:`llm_rollout.sources.KINDS`,
and one parametrisation of the conformance suite (``tests/sources/test_sources_contract.py``).
An aggregate source returns per-arm columns it can reconstruct: counters give the rate columns
exactly, sums give means; the judge's statistics that need every observation (quantiles, the
distribution distance) are the part such a source has to approximate, and it must say so.
A window may carry each observation's assignment unit (:attr:`ArmWindow.unit`, the sticky
bucket), which judging at the level of the unit needs.
"""

from __future__ import annotations

from typing import Protocol

from ..records import Window, WindowQuery


class WindowSource(Protocol):
    """Reads judging windows. Implementations keep no judging state of their own."""

    kind: str  # the factory key this source is built under, e.g. "store"

    def read_window(self, query: WindowQuery) -> Window:
        """Both arms of the window ``query`` names, with ``query``'s time range and weight.

        Observations of other rollouts, steps or roles, or outside ``start <= time < end``,
        are never included. A window with no observations is two empty arms, not an error;
        SourceError when the source cannot be read."""
        ...

    def check(self) -> None:
        """Raise SourceError when the source cannot be reached. Called once when a
        controller starts, so a misconfigured source fails loudly before the first check."""
        ...
