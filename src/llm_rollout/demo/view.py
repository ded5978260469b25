"""What the demo shows while it runs: a live rich view on a terminal, plain lines elsewhere.

The runner builds a :class:`Frame` about four times a second; a reporter renders it. The live
view shows the phase and step, the traffic split and requests per arm, each gate's verdict,
estimate and interval (formatted as ``llm-rollout judge`` formats them) and the audit events.
The plain reporter, for pipes and logs, prints one line per audit event (a rollback's line names
the failing gate with its interval) and a status line every few seconds.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..display import EVENT_STYLE, outcome_style
from ..judge.report import verdict_row
from ..records import Arm
from ..verdict import StepDecision
from .traffic import TrafficSnapshot


@dataclass(frozen=True)
class EventLine:
    at: float  # seconds since the rollout started
    kind: str
    text: str


@dataclass(frozen=True)
class Frame:
    title: str
    elapsed: float  # seconds since the rollout started
    phase: str
    stage: str  # "shadow", "10%", "promoted", ...
    weight: float  # candidate share of served traffic, percent
    shadow_sample: float
    step_elapsed: float
    traffic: TrafficSnapshot
    decision: StepDecision | None = None
    decision_title: str = ""
    events: tuple[EventLine, ...] = ()
    note: str = ""


class Reporter(Protocol):
    def processes(self, pids: dict[str, int], home: str) -> None: ...
    def frame(self, frame: Frame) -> None: ...
    def message(self, text: str) -> None: ...
    def close(self) -> None: ...


def _split_table(frame: Frame) -> Table:
    t = frame.traffic
    table = Table(title="traffic", title_justify="left", expand=False)
    for col in ("arm", "policy share", "answered", "observed share", "errors", "thumbs-down"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    total = sum(c.answered + c.errors for c in t.arms.values()) or 1
    for arm in (Arm.BASELINE, Arm.CANDIDATE):
        c = t.arms[arm]
        share = frame.weight if arm is Arm.CANDIDATE else 100.0 - frame.weight
        served = c.answered + c.errors
        table.add_row(
            arm.value,
            f"{share:g}%",
            str(c.answered),
            f"{100 * served / total:.1f}%",
            str(c.errors),
            str(c.thumbs_down),
        )
    return table


_SHORT = {
    "p50_ratio": "p50",
    "p95_ratio": "p95",
    "p99_ratio": "p99",
    "ttft_p99_ratio": "TTFT p99",
    "mean_ratio": "mean",
    "rate_excess": "rate",
    "ks_distance": "KS",
    "output_length": "length",
}


def gates_table(decision: StepDecision, title: str) -> Table:
    """One row per gate statistic: verdict, estimate, interval and the bound it must stay
    within, formatted as ``llm-rollout judge`` formats them (ratios, percentage points), compact
    enough for a terminal of about 90 columns."""
    table = Table(
        title=title,
        title_justify="left",
        title_style=outcome_style(decision.outcome),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col in ("gate", "verdict", "estimate", "interval", "pass if", "n base/cand"):
        table.add_column(
            col,
            justify="right" if col in ("estimate", "n base/cand") else "left",
            no_wrap=col in ("gate", "verdict", "interval"),
        )
    rows = list(decision.verdicts) + ([decision.srm] if decision.srm is not None else [])
    for v in rows:
        gate, statistic, _, estimate, interval, bound, n_b, n_c, _ = verdict_row(v)
        label = f"{_SHORT.get(gate, gate)} {_SHORT.get(statistic, statistic)}"
        table.add_row(
            label + ("" if v.critical else " (warn)"),
            Text(v.outcome.value, style=outcome_style(v.outcome)),
            estimate,
            interval,
            bound,
            f"{n_b}/{n_c}",
        )
    return table


def _events_table(events: tuple[EventLine, ...]) -> Table:
    table = Table(title="events", title_justify="left", expand=True, show_header=False)
    table.add_column("at", justify="right", width=7)
    table.add_column("kind", width=14)
    table.add_column("what", overflow="fold")
    for e in events[-6:]:
        table.add_row(f"{e.at:5.1f} s", Text(e.kind, style=EVENT_STYLE.get(e.kind, "")), e.text)
    return table


def render(frame: Frame) -> RenderableType:
    t = frame.traffic
    header = Text.assemble(
        (f"{frame.phase.upper()} ", "bold"),
        (f"{frame.stage}", "bold cyan"),
        f"  weight {frame.weight:g}%",
        f"  shadow {frame.shadow_sample:.0%}" if frame.shadow_sample else "",
        f"  in step {frame.step_elapsed:4.1f} s",
        f"  elapsed {frame.elapsed:5.1f} s",
        f"  {t.rate:3.0f} req/s",
        f"  no answer {t.failed}" if t.failed else "",
    )
    parts: list[RenderableType] = [Panel(header, title=frame.title, title_align="left")]
    parts.append(_split_table(frame))
    if frame.decision is not None:
        title = frame.decision_title or "gates on this step's window so far"
        title = f"{title}: {frame.decision.outcome.value}"
        parts.append(gates_table(frame.decision, title))
    parts.append(_events_table(frame.events))
    if frame.note:
        parts.append(Text(frame.note, style="bold"))
    return Group(*parts)


def plain_line(frame: Frame) -> str:
    t = frame.traffic
    b, c = t.arms[Arm.BASELINE], t.arms[Arm.CANDIDATE]
    gates = "" if frame.decision is None else f" gates {frame.decision.outcome.value}"
    return (
        f"{frame.elapsed:6.1f} s  {frame.phase} {frame.stage} (candidate {frame.weight:g}%): "
        f"baseline {b.answered} / candidate {c.answered} answers, {t.rate:.0f}/s{gates}"
    )


@dataclass
class PlainReporter:
    """Progress as lines: one per audit event, and a status line every ``every`` seconds."""

    out: TextIO = field(default_factory=lambda: sys.stderr)
    every: float = 5.0
    _seen: int = 0
    _last: float = -1e9

    def processes(self, pids: dict[str, int], home: str) -> None:
        listed = " ".join(f"{name}={pid}" for name, pid in pids.items())
        print(f"processes: {listed}", file=self.out, flush=True)
        print(f"store: {home}", file=self.out, flush=True)

    def frame(self, frame: Frame) -> None:
        for e in frame.events[self._seen :]:
            print(f"{e.at:6.1f} s  {e.kind}: {e.text}", file=self.out, flush=True)
        self._seen = max(self._seen, len(frame.events))
        if frame.elapsed - self._last >= self.every:
            self._last = frame.elapsed
            print(plain_line(frame), file=self.out, flush=True)

    def message(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def close(self) -> None:
        pass


class LiveReporter:
    """The rich live view (refreshed four times a second); the last frame stays on screen."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self._live: Live | None = None

    def processes(self, pids: dict[str, int], home: str) -> None:
        listed = ", ".join(f"{name} (pid {pid})" for name, pid in pids.items())
        self.console.print(f"[dim]started {listed}; store {home}[/dim]")

    def frame(self, frame: Frame) -> None:
        view = render(frame)
        if self._live is None:
            self._live = Live(view, console=self.console, refresh_per_second=4, transient=False)
            self._live.start()
        else:
            self._live.update(view)

    def message(self, text: str) -> None:
        self.console.print(text)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def reporter_for(stream: Any, json_mode: bool) -> Reporter:
    """The live view on a terminal; plain lines otherwise (to stderr when stdout is JSON)."""
    if json_mode:
        return PlainReporter(sys.stderr)
    if getattr(stream, "isatty", lambda: False)():
        return LiveReporter()
    return PlainReporter(stream)
