"""Operator commands: ``models add|list``, ``start``, ``status``, ``pause``, ``resume``,
``promote``, ``rollback``, ``abort``, ``history``, ``policy`` and the controller, ``control``.

Each works on the store of ``--home`` (default ``$LLM_ROLLOUT_HOME``, else ``./.llm-rollout``)
through :mod:`llm_rollout.operations`; library errors become one message and exit code 2.
``ROLLOUT`` is a rollout id or a logical model name; left out, the only active rollout.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..controller import CommandKind
from ..spec import Method
from ..store.base import Store
from .home import store_home_option

_HOME = click.option(
    "--home",
    type=store_home_option,
    metavar="DIR|URL",
    default=None,
    help="store: a directory or a postgresql:// URL [$LLM_ROLLOUT_HOME, else ./.llm-rollout]",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="print JSON instead of tables")
_ACTOR = click.option(
    "--actor", default=None, help="who acts, for the audit log [the current user name]"
)


@contextmanager
def _store(home: str | None) -> Iterator[Store]:
    from ..store import open_store

    store = open_store(home)
    try:
        yield store
    finally:
        store.close()


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "operator"


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


# --- models ---------------------------------------------------------------------------------


@click.group("models")
def models() -> None:
    """Register model versions and list the registry."""


@models.command("add")
@click.argument("models_file", type=click.Path(path_type=Path, dir_okay=False))
@_HOME
def models_add(models_file: Path, home: str | None) -> None:
    """Register the model versions of a YAML file ({models: [...]}); idempotent."""
    from ..operations import add_models
    from ..registry import load_models

    versions = load_models(models_file)
    with _store(home) as store:
        for version, new in add_models(store, versions):
            click.echo(f"{'added' if new else 'already registered'}: {version.ref}")


@models.command("list")
@_HOME
@_JSON
def models_list(home: str | None, as_json: bool) -> None:
    """List the registered model versions."""
    with _store(home) as store:
        versions = store.list_models()
    if as_json:
        _echo_json([{"ref": v.ref, **v.model_dump(mode="json")} for v in versions])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(versions)} registered model version(s)")
    for col in ("model", "endpoint", "upstream model", "USD / 1M in", "USD / 1M out"):
        table.add_column(col)
    for v in versions:
        table.add_row(
            v.short_ref, v.endpoint, v.upstream_model, f"{v.prices.input:g}", f"{v.prices.output:g}"
        )
    Console().print(table)


# --- start ----------------------------------------------------------------------------------


@click.command("start")
@click.argument("spec_file", type=click.Path(path_type=Path, dir_okay=False))
@_HOME
@_ACTOR
@click.option("--id", "rollout_id", default=None, help="rollout id [<spec name>-<time>-<hex>]")
@_JSON
def start_cmd(
    spec_file: Path, home: str | None, actor: str | None, rollout_id: str | None, as_json: bool
) -> None:
    """Start a rollout of a spec: pins both models, publishes the first policy."""
    from ..operations import start_rollout, status
    from ..spec import load_spec

    spec = load_spec(spec_file)
    with _store(home) as store:
        row = start_rollout(
            store, spec, actor=_actor(actor), now=time.time(), rollout_id=rollout_id
        )
        info = status(store, row.id, events=1)
    if as_json:
        _echo_json(info)
        return
    click.echo(
        f"started rollout {row.id} (model {row.model}): {info['phase']}, candidate weight "
        f"{info['weight']:g}%, shadow {info['shadow_sample']:.0%}; "
        f"policy version {info['policy']['version']}"
    )


# --- status ---------------------------------------------------------------------------------


def _events_table(events: list[dict[str, Any]], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for col in ("time", "rollout", "event", "actor", "from -> to", "step", "weight", "reason"):
        table.add_column(col, overflow="fold")
    for e in events:
        moved = f"{e.get('from', '')} -> {e.get('to', '')}" if "to" in e else ""
        weight = e.get("weight")
        table.add_row(
            _when(e["time"]),
            e["rollout"],
            e["kind"],
            str(e.get("actor", "")),
            moved,
            str(e.get("step", "")),
            "" if weight is None else f"{weight:g}%",
            str(e.get("reason", "")),
        )
    return table


def _status_view(info: dict[str, Any]) -> Any:
    from rich.console import Group
    from rich.text import Text

    from ..display import short_duration
    from ..verdict import StepDecision
    from .render import decision_table

    phase = info["phase"] + (f" (from {info['paused_from']})" if info["paused_from"] else "")
    step = info["step"]
    steps = info["steps"]
    where = f"step {step + 1}/{len(steps)}" if 0 <= step < len(steps) else f"step {step}"
    route = (info["policy"] or {}).get("route") or {}
    lines = [
        Text(f"rollout {info['rollout']} (model {info['model']})", style="bold"),
        Text(
            f"phase {phase}, {where}, candidate weight {info['weight']:g}%, shadow "
            f"{info['shadow_sample']:.0%}, dwell {short_duration(info['dwell'])}, "
            f"checks {info['checks']} (last {info['last_outcome'] or '-'})"
        ),
        Text(f"baseline  {info['baseline']}\ncandidate {info['candidate']}"),
        Text(f"reason: {info['reason']}"),
    ]
    samples = info.get("samples")
    if samples:
        role = samples.get("candidate_role") or "served"
        lines.append(
            Text(
                f"samples: baseline {samples['baseline']}, candidate {samples['candidate']}"
                f" ({role})"
            )
        )
    policy = info["policy"]
    lines.append(
        Text(
            f"policy version {policy['version']}: route "
            + (
                f"{route.get('candidate_bp', 0) / 100:g}% candidate, shadow "
                f"{route.get('shadow_sample', 0):.0%}, phase {route.get('phase')}"
                if route
                else "none"
            )
            + ("" if policy.get("owned") or not route else " (another rollout's route)")
        )
    )
    parts: list[Any] = list(lines)
    if info.get("decision"):
        title = f"gates ({info['decision_source']}): {info['decision']['outcome']}"
        parts.append(decision_table(StepDecision.from_dict(info["decision"]), title=title))
    for alert in info.get("alerts") or []:
        parts.append(Text(f"shadow alert {alert['outcome']}: {alert['explanation']}"))
    if info.get("ab"):
        parts.append(Text(f"A/B: {info['ab']['outcome']}: {info['ab']['explanation']}"))
    if info["events"]:
        parts.append(_events_table(info["events"], "last events"))
    return Group(*parts)


@click.command("status")
@click.argument("rollout", required=False)
@_HOME
@click.option("--watch", is_flag=True, help="redraw until the rollout finishes (Ctrl-C stops)")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="seconds between redraws with --watch",
)
@click.option(
    "--events",
    type=click.IntRange(0, 1000),
    default=8,
    show_default=True,
    help="how many of the last events to show",
)
@click.option(
    "--method",
    type=click.Choice([m.value for m in Method]),
    default=None,
    help="judge with this method instead of each gate's own",
)
@_JSON
def status_cmd(
    rollout: str | None,
    home: str | None,
    watch: bool,
    interval: float,
    events: int,
    method: str | None,
    as_json: bool,
) -> None:
    """Where a rollout is: step, weight, dwell, samples per arm, each gate's verdict with its
    estimate and interval on the current window, the last events and the live route."""
    from ..operations import find_rollout, status

    judge_method = Method(method) if method else None
    with _store(home) as store:
        rid = find_rollout(store, rollout).id

        def snapshot() -> dict[str, Any]:
            return status(store, rid, method=judge_method, events=events)

        if as_json and not watch:
            _echo_json(snapshot())
            return
        if not watch:
            from rich.console import Console

            Console().print(_status_view(snapshot()))
            return
        _watch(snapshot, interval, as_json)


def _watch(snapshot: Callable[[], dict[str, Any]], interval: float, as_json: bool) -> None:
    from rich.console import Console
    from rich.live import Live

    try:
        if as_json:  # one JSON document per line, for scripts
            while True:
                info = snapshot()
                click.echo(json.dumps(info, default=str))
                if not info["active"]:
                    return
                time.sleep(interval)
        info = snapshot()
        with Live(_status_view(info), console=Console(), auto_refresh=False) as live:
            while info["active"]:
                time.sleep(interval)
                info = snapshot()
                live.update(_status_view(info), refresh=True)
    except KeyboardInterrupt:
        return


# --- commands -------------------------------------------------------------------------------

_DONE = {
    CommandKind.PAUSE: "paused",
    CommandKind.RESUME: "resumed",
    CommandKind.PROMOTE: "promoted",
    CommandKind.ROLLBACK: "rolled back",
    CommandKind.ABORT: "aborted",
}
_HELP = {
    CommandKind.PAUSE: "Pause a rollout: traffic keeps its current split, nothing moves.",
    CommandKind.RESUME: "Resume a paused rollout; its judging window restarts now.",
    CommandKind.PROMOTE: "Promote now: skip the remaining steps (and any A/B step) to 100%.",
    CommandKind.ROLLBACK: "Roll back now: publish the rollback policy (candidate weight 0, "
    "shadow off, baseline pinned) and return once it is committed.",
    CommandKind.ABORT: "Stop a rollout without judging it bad: same route as a rollback.",
}


def _operator_command(kind: CommandKind) -> click.Command:
    @click.command(kind.value, help=_HELP[kind])
    @click.argument("rollout", required=False)
    @_HOME
    @_ACTOR
    @click.option("--reason", default="", help="why, for the audit log")
    @_JSON
    def run(
        rollout: str | None, home: str | None, actor: str | None, reason: str, as_json: bool
    ) -> None:
        from ..operations import command

        with _store(home) as store:
            row = command(store, rollout, kind, actor=_actor(actor), reason=reason, now=time.time())
            current = store.current_policy()
        version = 0 if current is None else current.version
        if as_json:
            _echo_json(
                {
                    "rollout": row.id,
                    "command": kind.value,
                    "phase": row.state["phase"],
                    "step": row.state["step"],
                    "revision": row.revision,
                    "policy_version": version,
                }
            )
            return
        click.echo(
            f"{_DONE[kind]} rollout {row.id} (model {row.model}): now {row.state['phase']}; "
            f"policy version {version} committed"
        )

    return run


pause = _operator_command(CommandKind.PAUSE)
resume = _operator_command(CommandKind.RESUME)
promote = _operator_command(CommandKind.PROMOTE)
rollback = _operator_command(CommandKind.ROLLBACK)
abort = _operator_command(CommandKind.ABORT)


# --- history and policy ---------------------------------------------------------------------


@click.command("history")
@click.argument("rollout", required=False)
@_HOME
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True)
@_JSON
def history(rollout: str | None, home: str | None, limit: int, as_json: bool) -> None:
    """The audit log: every transition with its actor, reason and evidence (of one rollout,
    or of all when ROLLOUT is left out)."""
    from ..operations import event_summary, find_rollout

    with _store(home) as store:
        rid = None if rollout is None else find_rollout(store, rollout).id
        events = store.events(rid, limit=limit)
    if as_json:
        _echo_json([event_summary(e) | {"data": e.data} for e in events])
        return
    from rich.console import Console

    title = f"audit log of {rid}" if rid else "audit log"
    Console().print(_events_table([event_summary(e) for e in events], title))


@click.command("policy")
@_HOME
@click.option("--history", "show_history", is_flag=True, help="list past versions too")
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@_JSON
def policy(home: str | None, show_history: bool, limit: int, as_json: bool) -> None:
    """The current routing policy (and, with --history, the versions before it)."""
    from dataclasses import asdict

    with _store(home) as store:
        versions = store.policy_history(limit if show_history else 1)
    if as_json:
        docs = [asdict(v) for v in versions]
        _echo_json(docs if show_history else (docs[0] if docs else None))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not versions:
        console.print("no policy published yet")
        return
    table = Table(title="policy versions" if show_history else f"policy v{versions[0].version}")
    for col in (
        "version",
        "time",
        "actor",
        "model",
        "weight",
        "shadow",
        "phase",
        "step",
        "rollout",
        "reason",
    ):
        table.add_column(col, overflow="fold")
    for v in versions:
        routes = v.doc.get("routes", {}) or {"-": {}}
        for model, r in sorted(routes.items()):
            table.add_row(
                str(v.version),
                _when(v.time),
                v.actor,
                model,
                f"{r.get('candidate_bp', 0) / 100:g}%" if r else "",
                f"{r.get('shadow_sample', 0):.0%}" if r else "",
                str(r.get("phase", "")),
                str(r.get("step", "")),
                str(r.get("rollout_id") or ""),
                v.reason,
            )
    console.print(table)


# --- the controller -------------------------------------------------------------------------


@click.command("control")
@_HOME
@click.option(
    "--lease-ttl",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="seconds a controller's lease lasts; a standby takes over within this",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.01),
    default=0.5,
    show_default=True,
    help="seconds between passes",
)
@click.option(
    "--judge-every",
    type=click.FloatRange(min=0.01),
    default=None,
    help="override every spec's check_interval (seconds)",
)
@click.option(
    "--method",
    type=click.Choice([m.value for m in Method]),
    default=None,
    help="judge every gate with this method",
)
@click.option("--once", is_flag=True, help="run one pass and exit")
@click.option("--holder", default=None, help="this controller's name in the lease [host:pid:hex]")
@click.option(
    "--admin-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="serve the admin HTTP API on this port",
)
@click.option("--admin-host", default="127.0.0.1", show_default=True)
@click.option(
    "--admin-token-env",
    default=None,
    metavar="VAR",
    help="env var holding the admin API's bearer token (required with --admin-port)",
)
def control(
    home: str | None,
    lease_ttl: float,
    poll: float,
    judge_every: float | None,
    method: str | None,
    once: bool,
    holder: str | None,
    admin_port: int | None,
    admin_host: str,
    admin_token_env: str | None,
) -> None:
    """Run the controller: judge every active rollout each check interval, advance, pause or
    roll it back, publish the policy. Only the holder of the store's lease acts; others wait
    and take over when it stops renewing."""
    from ..service import ControllerService
    from ..store import open_store

    token = None
    if admin_port is not None:
        if not admin_token_env:
            raise click.BadParameter(
                "--admin-port needs --admin-token-env", param_hint="--admin-port"
            )
        token = os.environ.get(admin_token_env, "")
        if not token:
            raise click.BadParameter(
                f"{admin_token_env} is not set or empty", param_hint="--admin-token-env"
            )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    judge_method = Method(method) if method else None
    with _store(home) as store:
        service = ControllerService(
            store,
            holder=holder,
            lease_ttl=lease_ttl,
            method=judge_method,
            judge_every=judge_every,
        )
        if once:
            lines = service.run_pass()
            if not service.leader:
                click.echo("another controller holds the lease; nothing done", err=True)
            service.release()
            for line in lines:
                click.echo(line)
            return
        admin = None
        admin_store = None
        if admin_port is not None and token:
            from ..service.admin import AdminAPI, serve_in_thread

            admin_store = open_store(home)
            admin = serve_in_thread(
                AdminAPI(admin_store, token, method=judge_method), admin_host, admin_port
            )
        stop = threading.Event()

        def _stop(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        where = f"; admin API on http://{admin_host}:{admin_port}" if admin else ""
        click.echo(f"controller {service.holder} on {store!r}{where}", err=True)
        try:
            service.run(stop, poll=poll)
        finally:
            if admin is not None:
                admin.stop()
            if admin_store is not None:
                admin_store.close()
        click.echo(f"controller {service.holder} stopped", err=True)
