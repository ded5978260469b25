"""A traffic generator of real OpenAI-client requests, with sticky users and thumbs-down.

Requests arrive as a Poisson process at ``rate`` per second, each from one of ``users`` sticky
users (the OpenAI ``user`` field, which the gateway buckets by) and each sent with the official
``openai`` async client, a share of them streamed. The arm that served a request is read from
the gateway's ``x-rollout-arm`` header; a served answer gets a thumbs-down (``POST
/v1/feedback``) with the probability given for its arm, so a "users dislike the candidate"
regression needs no help from the model server.

The generator runs its own asyncio loop in a thread. It counts per arm and keeps the start and
end time of every candidate-served answer: what the rollback measurements read.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..records import Arm

PROMPTS = (
    "Summarise the attached meeting notes in three bullet points.",
    "What is the capital of Australia?",
    "Write a polite reply declining the invitation.",
    "Explain the difference between a mutex and a semaphore.",
    "Translate 'good morning' into French and German.",
)


@dataclass
class ArmCounts:
    answered: int = 0  # 2xx answers served by this arm
    errors: int = 0  # error answers (5xx, or an error event mid-stream) from this arm
    thumbs_down: int = 0  # thumbs-down the generator posted for this arm's answers


@dataclass(frozen=True)
class TrafficSnapshot:
    arms: dict[Arm, ArmCounts]
    sent: int
    failed: int  # no answer at all: connection refused or reset, client timeout
    skipped: int  # arrivals not sent because too many requests were in flight
    feedback_failed: int
    rate: float  # answers per second over the last two seconds

    @property
    def answered(self) -> int:
        return sum(c.answered + c.errors for c in self.arms.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "skipped": self.skipped,
            "feedback_failed": self.feedback_failed,
            "arms": {
                arm.value: {
                    "answered": c.answered,
                    "errors": c.errors,
                    "thumbs_down": c.thumbs_down,
                }
                for arm, c in self.arms.items()
            },
        }


@dataclass
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    arms: dict[Arm, ArmCounts] = field(
        default_factory=lambda: {Arm.BASELINE: ArmCounts(), Arm.CANDIDATE: ArmCounts()}
    )
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    feedback_failed: int = 0
    recent: deque[float] = field(default_factory=deque)
    candidate: list[tuple[float, float]] = field(default_factory=list)  # (start, end)


class TrafficGenerator:
    """Send requests to one or more gateways (round robin) until :meth:`stop`."""

    def __init__(
        self,
        base_urls: Sequence[str],
        model: str,
        *,
        rate: float,
        users: int = 100_000,
        thumbs_down: Mapping[Arm, float] | None = None,
        stream_fraction: float = 0.1,
        seed: int | None = None,
        max_in_flight: int = 64,
        timeout: float = 15.0,
        max_tokens: int | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.base_urls = list(base_urls)
        self.model = model
        self.rate = rate
        self.users = users
        self.thumbs_down = dict(thumbs_down or {})
        self.stream_fraction = stream_fraction
        self.rng = random.Random(seed)
        self.max_in_flight = max_in_flight
        self.timeout = timeout
        self.max_tokens = max_tokens
        self._stats = _Stats()
        self._stop = threading.Event()
        self._drain = timeout  # how long stop() lets requests in flight finish
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # --- control ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop sending, let requests in flight finish (cancelled after ``timeout``)."""
        self._drain = timeout
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout + 5.0)
            self._thread = None

    @property
    def error(self) -> BaseException | None:
        """What ended the generator's loop early, if anything did."""
        return self._error

    # --- what it saw --------------------------------------------------------------------
    def snapshot(self) -> TrafficSnapshot:
        s = self._stats
        now = time.monotonic()
        with s.lock:
            while s.recent and s.recent[0] < now - 2.0:
                s.recent.popleft()
            return TrafficSnapshot(
                arms={arm: ArmCounts(**vars(c)) for arm, c in s.arms.items()},
                sent=s.sent,
                failed=s.failed,
                skipped=s.skipped,
                feedback_failed=s.feedback_failed,
                rate=len(s.recent) / 2.0,
            )

    def candidate_answers(self) -> list[tuple[float, float]]:
        """(start, end) wall-clock times of every candidate-served answer so far."""
        with self._stats.lock:
            return list(self._stats.candidate)

    # --- the loop -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced through .error; the demo reports it
            self._error = exc

    async def _main(self) -> None:
        import openai

        clients = [
            openai.AsyncOpenAI(
                base_url=url + "/v1", api_key="demo", max_retries=0, timeout=self.timeout
            )
            for url in self.base_urls
        ]
        tasks: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        i = 0
        try:
            while not self._stop.is_set():
                next_at += self.rng.expovariate(self.rate)
                delay = next_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if len(tasks) >= self.max_in_flight:
                    # Open loop with a cap: a saturated machine sheds arrivals instead of
                    # queueing them, so latency (and the rollback timing) measures the system,
                    # not a backlog the generator built.
                    with self._stats.lock:
                        self._stats.skipped += 1
                    await asyncio.sleep(0)
                    continue
                client = clients[i % len(clients)]
                i += 1
                user = f"user-{self.rng.randrange(self.users)}"
                stream = self.rng.random() < self.stream_fraction
                prompt = self.rng.choice(PROMPTS)
                task = asyncio.create_task(self._one(client, user, prompt, stream))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=self._drain)
                for task in pending:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*pending, return_exceptions=True)
        finally:
            for client in clients:
                await client.close()

    async def _one(self, client: Any, user: str, prompt: str, stream: bool) -> None:
        import openai

        stats = self._stats
        with stats.lock:
            stats.sent += 1
        start = time.time()
        messages = [{"role": "user", "content": prompt}]
        extra: dict[str, Any] = {} if self.max_tokens is None else {"max_tokens": self.max_tokens}
        arm: Arm | None = None
        try:
            raw = await client.chat.completions.with_raw_response.create(
                model=self.model, messages=messages, user=user, stream=stream, **extra
            )
            arm = _arm(raw.headers)
            request_id = raw.headers.get("x-request-id")
            parsed = raw.parse()
            if stream:
                async for _ in parsed:
                    pass
        except openai.APIStatusError as exc:
            self._count_error(_arm(exc.response.headers))
            return
        except openai.APIError:  # no answer: connection refused, reset, timeout, bad stream
            if arm is None:
                with stats.lock:
                    stats.failed += 1
            else:
                self._count_error(arm)
            return
        end = time.time()
        with stats.lock:
            stats.recent.append(time.monotonic())
            if arm is None:  # answered, but not by a routed model: count it as failed routing
                stats.failed += 1
                return
            stats.arms[arm].answered += 1
            if arm is Arm.CANDIDATE:
                stats.candidate.append((start, end))
        if request_id and self.rng.random() < self.thumbs_down.get(arm, 0.0):
            await self._thumbs_down(client, request_id, arm)

    def _count_error(self, arm: Arm | None) -> None:
        with self._stats.lock:
            self._stats.recent.append(time.monotonic())
            if arm is None:
                self._stats.failed += 1
            else:
                self._stats.arms[arm].errors += 1

    async def _thumbs_down(self, client: Any, request_id: str, arm: Arm) -> None:
        import openai

        try:
            await client.post(
                "/feedback", body={"request_id": request_id, "rating": "down"}, cast_to=object
            )
        except openai.APIError:
            with self._stats.lock:
                self._stats.feedback_failed += 1
            return
        with self._stats.lock:
            self._stats.arms[arm].thumbs_down += 1


def _arm(headers: Mapping[str, str]) -> Arm | None:
    value = headers.get("x-rollout-arm")
    try:
        return None if value is None else Arm(value)
    except ValueError:
        return None
