"""Optional payload log (``store_payloads: true``): prompts and outputs as JSON lines.

Kept apart from the record store on purpose: records are metrics that every replica and the
controller read; payloads are user content with their own retention and access rules. One file
per UTC day under ``<home>/payloads/``, appended on the store thread, never on the event loop.
Without the option nothing of a prompt or an output is written anywhere.

One line per answer: ``{"request_id", "time", "role", "request", "response"}``. The served
answer has ``"role": "serve"`` and the client's request body; a shadow copy's answer has
``"role": "shadow"``, the *same* request id and no ``request`` (it is the served line's, and
user content is not written twice). ``response`` is the upstream's body as text for a
non-streamed call, or the streamed output text. :mod:`llm_rollout.analysis.shadow_pairs` pairs
the two lines of a request for the shadow report's text comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from ..records import Role
from .writer import StoreThread

FLUSH_EVERY = 0.5


class PayloadLog:
    def __init__(
        self, directory: Path, thread: StoreThread, clock: Callable[[], float] = time.time
    ) -> None:
        self._dir = directory
        self._thread = thread
        self._clock = clock
        self._lines: list[bytes] = []
        self._task: asyncio.Task[None] | None = None

    def add(
        self, request_id: str, request: bytes | None, response: bytes, role: Role = Role.SERVE
    ) -> None:
        """Queue one answer's line; ``request`` is None for a shadow copy (see the module doc)."""
        line: dict[str, object] = {"request_id": request_id, "time": self._clock(), "role": role}
        if request is not None:
            line["request"] = request.decode("utf-8", "replace")
        line["response"] = response.decode("utf-8", "replace")
        self._lines.append(orjson.dumps(line) + b"\n")
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(FLUSH_EVERY)
        await self.flush()

    async def flush(self) -> None:
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        day = time.strftime("%Y-%m-%d", time.gmtime(self._clock()))
        await self._thread.call(_append, self._dir / f"{day}.jsonl", b"".join(lines))

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


def _append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as f:
        f.write(data)
