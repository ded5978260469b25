"""Policy push on PostgreSQL: one dedicated connection LISTENing for new policy versions.

Every transaction that writes a policy version also sends ``NOTIFY llm_rollout_policy,
'<version>'`` (delivered at commit; the version only, never the document). A notification
sent while the listener is disconnected is lost, so on every connect, and every reconnect,
the listener first LISTENs, then reads the current version, then reports it: a version
committed at any moment is either notified after the LISTEN or read by the SELECT after it.
Callers keep their slow poll as a backstop.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

import psycopg

from ._pg_errors import describe, password_of, scrub

CHANNEL = "llm_rollout_policy"
NOTIFY_SQL = f"SELECT pg_notify('{CHANNEL}', %s)"
log = logging.getLogger("llm_rollout.store")


class PolicyListener:
    """Calls ``on_version(version)`` from its own thread: once per (re)connect with the
    current version, then for every notification. ``close()`` stops it."""

    def __init__(
        self,
        url: str,
        on_version: Callable[[int], None],
        *,
        retry: float = 0.2,
        max_retry: float = 5.0,
        wake_every: float = 0.5,
    ) -> None:
        self._url = url
        self._where = describe(url)
        self._password = password_of(url)
        self._on_version = on_version
        self._retry = retry
        self._max_retry = max_retry
        self._wake_every = wake_every  # how soon close() is noticed while no one publishes
        self._stop = threading.Event()
        self.connects = 0  # connections made so far (tests and diagnostics)
        self.backend_pid: int | None = None  # the server process of the current connection
        self._thread = threading.Thread(target=self._run, name="llm-rollout-policy-listen")
        self._thread.daemon = True  # never keeps a process alive: the poll is the backstop

    def start(self) -> PolicyListener:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._wake_every + 5.0)

    def _run(self) -> None:
        delay = self._retry
        while not self._stop.is_set():
            try:
                self._listen()
                delay = self._retry
            except psycopg.Error as exc:
                log.warning(
                    "policy listener on %s lost its connection (%s); reconnecting in %.1f s",
                    self._where,
                    scrub(str(exc).strip(), self._password),
                    delay,
                )
                self._stop.wait(delay)
                delay = min(delay * 2, self._max_retry)

    def _listen(self) -> None:
        timeout = max(1, math.ceil(self._wake_every * 4))
        with psycopg.connect(self._url, autocommit=True, connect_timeout=timeout) as conn:
            conn.execute(f"LISTEN {CHANNEL}")  # first: nothing committed after this is missed
            row = conn.execute("SELECT coalesce(max(version), 0) FROM policy").fetchone()
            self.backend_pid = conn.info.backend_pid
            self.connects += 1
            self._report(int(row[0]) if row else 0)
            while not self._stop.is_set():
                for note in conn.notifies(timeout=self._wake_every):
                    try:
                        version = int(note.payload)
                    except ValueError:  # not ours (anyone may NOTIFY): the poll still runs
                        log.warning("policy listener: ignored payload %r", note.payload[:40])
                        continue
                    self._report(version)

    def _report(self, version: int) -> None:
        try:
            self._on_version(version)
        except Exception:  # a failing callback must not take the listener down
            log.exception("policy listener: handling version %d failed", version)
