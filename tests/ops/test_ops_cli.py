"""The operator commands in-process (``main([...])``): output, JSON, exit codes, bad input."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from ops_helpers import BIN, Traffic

from llm_rollout.cli import COMMANDS, main
from llm_rollout.store.sqlite import SQLiteStore

OPS_COMMANDS = (
    "models",
    "start",
    "status",
    "pause",
    "resume",
    "promote",
    "rollback",
    "abort",
    "history",
    "policy",
    "control",
)
MODELS = {
    "models": [
        {
            "name": name,
            "endpoint": "http://127.0.0.1:9/v1",
            "upstream_model": upstream,
            "prices": {"input": 1.0, "output": 2.0},
        }
        for name, upstream in (("base", "b"), ("cand", "c"))
    ]
}
SPEC = {
    "name": "chat",
    "baseline": "base",
    "candidate": "cand",
    "shadow": {"enabled": False},
    "steps": [{"weight": 10, "min_dwell": 60, "min_samples": 50}, 100],
    "check_interval": 5,
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one command."""
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "240")  # rich wraps tables at the terminal width


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    h = tmp_path / "home"
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump(MODELS))
    code, out, _ = run(capsys, "models", "add", str(models), "--home", str(h))
    assert code == 0
    assert out.count("added: ") == 2
    return h


def spec_file(tmp_path: Path, **fields: Any) -> str:
    path = tmp_path / f"spec-{len(fields)}-{time.monotonic_ns()}.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **fields}))
    return str(path)


def test_every_operator_command_is_registered_with_help(capsys: pytest.CaptureFixture[str]) -> None:
    for name in OPS_COMMANDS:
        assert name in COMMANDS
        code, out, _ = run(capsys, name, "--help")
        assert code == 0, name
        assert "Usage:" in out, name
        assert len(out.splitlines()) > 3, name


def test_models_add_is_idempotent_and_list_shows_them(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models.yaml"
    code, out, _ = run(capsys, "models", "add", str(models), "--home", str(home))
    assert code == 0
    assert out.count("already registered: ") == 2
    code, out, _ = run(capsys, "models", "list", "--home", str(home), "--json")
    assert code == 0
    assert [m["name"] for m in json.loads(out)] == ["base", "cand"]
    code, out, _ = run(capsys, "models", "list", "--home", str(home))
    assert code == 0
    assert "base@sha256:" in out
    assert "2 registered" in out


def test_start_status_pause_resume_rollback_history_policy(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = ("--home", str(home))
    code, out, err = run(capsys, "start", spec_file(tmp_path), *h, "--id", "r1", "--actor", "al")
    assert code == 0, err
    assert out.startswith("started rollout r1 (model chat): canary, candidate weight 10%")
    store = SQLiteStore(home / "store.db")
    started = store.get_rollout("r1").state["phase_started"]
    while time.time() <= started + 0.01:
        time.sleep(0.005)
    Traffic(store, "chat").send(started, started + 0.01, 300)
    code, out, _ = run(capsys, "status", *h)
    assert code == 0
    for text in (
        "rollout r1 (model chat)",
        "phase canary, step 1/2",
        "samples: baseline",
        "cost",
        "mean_ratio",
        "last events",
        "policy version 1",
    ):
        assert text in out, text
    code, out, _ = run(capsys, "status", "chat", *h, "--json")
    info = json.loads(out)
    assert info["samples"]["baseline"] + info["samples"]["candidate"] == 300
    code, out, _ = run(capsys, "pause", *h, "--reason", "lunch", "--actor", "bo")
    assert (code, out.strip()) == (
        0,
        "paused rollout r1 (model chat): now paused; policy version 2 committed",
    )
    code, out, _ = run(capsys, "resume", "r1", *h, "--json")
    assert code == 0
    assert json.loads(out)["phase"] == "canary"
    code, out, _ = run(capsys, "rollback", *h, "--reason", "errors", "--json")
    assert code == 0
    assert json.loads(out) == {
        "rollout": "r1",
        "command": "rollback",
        "phase": "rolled_back",
        "step": 0,
        "revision": 5,
        "policy_version": 4,
    }
    code, out, _ = run(capsys, "history", "r1", *h, "--json")
    events = json.loads(out)
    assert [e["kind"] for e in events] == ["started", "paused", "resumed", "rolled_back"]
    assert [e["actor"] for e in events[:2]] == ["al", "bo"]
    assert events[2]["actor"] == events[3]["actor"] != ""  # the current user by default
    assert events[1]["data"]["reason"] == "pause by bo: lunch"
    code, out, _ = run(capsys, "history", *h)
    assert code == 0
    assert "audit log" in out
    assert "rolled_back" in out
    code, out, _ = run(capsys, "policy", *h, "--history", "--json")
    assert [v["doc"]["routes"]["chat"]["phase"] for v in json.loads(out)] == [
        "rolled_back",
        "canary",
        "paused",
        "canary",
    ]
    code, out, _ = run(capsys, "policy", *h)
    assert code == 0
    assert "policy v4" in out
    assert "rolled_back" in out
    code, out, _ = run(capsys, "status", "r1", *h)
    assert code == 0
    assert "phase rolled_back" in out
    store.close()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"candidate": "ghost"}, "unknown model 'ghost'"),
        ({"steps": [10, 50]}, "the last step must be 100"),
    ],
)
def test_bad_specs_exit_2_and_write_nothing(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fields: dict, message: str
) -> None:
    code, _out, err = run(capsys, "start", spec_file(tmp_path, **fields), "--home", str(home))
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    store = SQLiteStore(home / "store.db")
    assert (store.list_rollouts(), store.policy_version()) == ([], 0)
    store.close()


def test_a_second_rollout_on_a_busy_model_exits_2(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "start", spec_file(tmp_path), "--home", str(home), "--id", "r1")[0] == 0
    code, _, err = run(capsys, "start", spec_file(tmp_path), "--home", str(home))
    assert code == 2
    assert "model 'chat' already has an active rollout 'r1'" in err
    store = SQLiteStore(home / "store.db")
    assert [r.id for r in store.list_rollouts()] == ["r1"]
    assert store.policy_version() == 1
    store.close()


def test_commands_without_a_rollout_say_so(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["status"], ["pause"], ["rollback", "nope"], ["history", "nope"]):
        code, _, err = run(capsys, *argv, "--home", str(home))
        assert code == 2, argv
        assert err.startswith("error: no "), (argv, err)


def test_a_corrupt_store_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "store.db").write_bytes(b"this is not a database, just garbage " * 200)
    for argv in (["status"], ["rollback", "x"], ["models", "list"], ["policy"]):
        code, _, err = run(capsys, *argv, "--home", str(home))
        assert code == 2, argv
        assert "is not an llm-rollout store or is damaged" in err, (argv, err)
    assert (home / "store.db").read_bytes().startswith(b"this is not a database")


def test_a_locked_store_exits_2_with_state_unchanged(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "start", spec_file(tmp_path), "--home", str(home), "--id", "r1")[0] == 0
    lock = sqlite3.connect(home / "store.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # a stuck writer
    try:
        # a separate process: the store's busy timeout (5 s) runs out and it reports the lock
        done = subprocess.run(
            [BIN, "rollback", "--home", str(home)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert done.returncode == 2, done.stderr
    assert "is locked by another process" in done.stderr, done.stderr
    store = SQLiteStore(home / "store.db")
    assert store.get_rollout("r1").state["phase"] == "canary"
    assert store.policy_version() == 1
    store.close()


def test_control_once_runs_one_pass(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = spec_file(tmp_path, check_interval=0.01)
    assert run(capsys, "start", spec, "--home", str(home), "--id", "r1")[0] == 0
    time.sleep(0.02)
    code, out, err = run(capsys, "control", "--home", str(home), "--once", "--holder", "h1")
    assert code == 0, err
    assert out.startswith("r1: check 1 canary step 0"), out
    store = SQLiteStore(home / "store.db")
    assert store.get_rollout("r1").state["checks"] == 1
    assert store.acquire_lease("controller", "h2", 60, time.time())  # released on exit
    code, out, err = run(capsys, "control", "--home", str(home), "--once", "--holder", "h1")
    assert code == 0
    assert out == ""
    assert "another controller holds the lease" in err
    store.close()


def test_control_refuses_an_admin_api_without_a_token(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, "control", "--home", str(home), "--admin-port", "1")
    assert code == 2
    assert "--admin-port needs --admin-token-env" in err
    monkeypatch.setenv("EMPTY_TOKEN", "")
    code, _, err = run(
        capsys,
        "control",
        "--home",
        str(home),
        "--admin-port",
        "1",
        "--admin-token-env",
        "EMPTY_TOKEN",
    )
    assert code == 2
    assert "EMPTY_TOKEN is not set or empty" in err


def test_status_watch_json_stops_when_the_rollout_is_finished(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "start", spec_file(tmp_path), "--home", str(home), "--id", "r1")[0] == 0
    assert run(capsys, "promote", "--home", str(home), "--reason", "ship it")[0] == 0
    code, out, _ = run(capsys, "status", "--home", str(home), "r1", "--watch", "--json")
    [line] = out.splitlines()
    assert code == 0
    assert json.loads(line)["phase"] == "promoted"
    code, out, _ = run(capsys, "status", "--home", str(home), "r1", "--watch", "--interval", "0.1")
    assert code == 0
    assert "phase promoted" in out


def test_status_of_a_fresh_rollout_before_any_traffic(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "start", spec_file(tmp_path), "--home", str(home))[0] == 0
    code, out, _ = run(capsys, "status", "--home", str(home))
    assert code == 0
    assert "NODATA" in out
    assert "samples: baseline 0, candidate 0" in out
