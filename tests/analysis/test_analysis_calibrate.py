"""``llm-rollout calibrate``: the noise floor from a simulation and from an A/A split in a store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from llm_rollout.analysis import calibrate_simulation, calibrate_store, render_noise_markdown
from llm_rollout.cli import cli
from llm_rollout.plan import load_noise
from llm_rollout.plan.noise import NoiseProfile
from llm_rollout.profile import ModelProfile
from llm_rollout.records import Arm, RequestRecord, Role, Status
from llm_rollout.registry import ModelVersion, load_models
from llm_rollout.sim.behaviour import Prompts, behave, drift_factors
from llm_rollout.store.sqlite import SQLiteStore
from llm_rollout.testing import assert_tables_are_rectangular

# the worked plan's two models: support-v1, and support-v2 at three times the price per token
MODELS_FILE = Path(__file__).resolve().parents[2] / "examples" / "plan" / "models.yaml"


def versions() -> list[ModelVersion]:
    return load_models(MODELS_FILE)


def test_simulated_drift_is_measured_back() -> None:
    profile = calibrate_simulation(
        ModelProfile(drift=0.10), rate=600, hours=2, runs=3, run_variation=0.0
    )
    tokens = profile.metrics["output_mean"]
    assert tokens.windows == 3 * 24
    # +-10% per arm and window: the log ratio's sd is 0.1 * sqrt(2/3) = 0.082
    assert tokens.drift_sd == pytest.approx(0.082, rel=0.25)
    assert tokens.sampling_sd < tokens.drift_sd
    assert tokens.floor == pytest.approx(np.expm1(tokens.multiplier * tokens.drift_sd))
    # cost drifts less: its prompt part (a property of the traffic) does not drift
    assert profile.metrics["cost"].drift_sd < tokens.drift_sd
    assert profile.drift == 0.10
    assert profile.source == "simulation"
    assert profile.baseline["refusal_rate"] == ModelProfile().refusal_rate


def test_without_drift_the_floor_is_small() -> None:
    profile = calibrate_simulation(
        ModelProfile(drift=0.0), rate=1200, hours=1, runs=2, run_variation=0.0
    )
    for metric in ("cost", "latency_p50", "output_mean"):
        assert profile.metrics[metric].floor < 0.05, metric
    md = render_noise_markdown(profile)
    assert md.startswith("# Noise floor calibration")
    assert "| metric |" in md
    assert_tables_are_rectangular(md)


def aa_records(digest: str, windows: int, drift: float, seed: int = 0) -> list[RequestRecord]:
    """Served records of a 50/50 split whose two arms are the same model."""
    rng = np.random.default_rng(seed)
    profile = ModelProfile(drift=drift)
    out: list[RequestRecord] = []
    for w in range(windows):
        t0 = 1_700_000_000.0 + 300 * w
        times = np.sort(rng.uniform(t0, t0 + 300, 1000))
        prompts = Prompts.draw(rng, times)
        side = rng.random(times.size) < 0.5
        for arm, mask in ((Arm.BASELINE, ~side), (Arm.CANDIDATE, side)):
            b = behave(
                profile,
                prompts.take(mask),
                rng,
                drift_factors(rng, drift),
                prompt_tokens_mean=400.0,
            )
            for i in range(b.n):
                ttft = b.ttft_ms[i]
                out.append(
                    RequestRecord(
                        request_id=f"{arm.value}-{w}-{i}",
                        time=float(b.time[i]),
                        rollout_id="aa",
                        step=0,
                        arm=arm,
                        role=Role.SERVE,
                        model_digest=digest,
                        status=Status.ERROR if b.error[i] else Status.OK,
                        http_status=500 if b.error[i] else 200,
                        latency_ms=float(b.latency_ms[i]),
                        ttft_ms=None if np.isnan(ttft) else float(ttft),
                        prompt_tokens=int(b.prompt_tokens[i]),
                        completion_tokens=int(b.completion_tokens[i]),
                        cost_usd=float(b.cost_usd[i]),
                        refused=bool(b.refused[i]),
                        finish_reason="stop",
                    )
                )
    return out


@pytest.fixture
def aa_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    store = SQLiteStore(home / "store.db")
    base = versions()[0]
    store.put_model(base)
    store.append_records(aa_records(base.digest, windows=16, drift=0.08))
    store.close()
    return home


def test_store_calibration_names_the_model_and_measures_the_drift(aa_home: Path) -> None:
    store = SQLiteStore(aa_home / "store.db")
    try:
        profile = calibrate_store(store, "aa")
    finally:
        store.close()
    assert profile.source == "store"
    assert profile.model == versions()[0].ref
    tokens = profile.metrics["output_mean"]
    assert tokens.windows in (15, 16)  # windows start at the first record
    assert tokens.drift_sd == pytest.approx(0.08 * np.sqrt(2 / 3), rel=0.45)
    assert profile.baseline["error_rate"] == pytest.approx(0.005, abs=0.004)
    assert profile.baseline["latency_ms"] == pytest.approx(800, rel=0.1)


def test_cli_calibrates_the_store_and_the_plan_accepts_the_profile(
    aa_home: Path, tmp_path: Path
) -> None:
    noise = tmp_path / "noise.json"
    result = CliRunner().invoke(
        cli,
        [
            "calibrate",
            "aa",
            "--home",
            str(aa_home),
            "--json",
            str(noise),
            "--out",
            str(tmp_path / "noise.md"),
        ],
    )
    assert result.exit_code == 0, result.output
    profile = load_noise(noise)
    assert profile.model == versions()[0].ref
    assert NoiseProfile.from_dict(json.loads(noise.read_text())) == profile
    plan = CliRunner().invoke(
        cli,
        [
            "plan",
            "--models",
            str(MODELS_FILE),
            "--baseline",
            "support-v1",
            "--candidate",
            "support-v2",
            "--rate",
            "300",
            "--risk",
            "high",
            "--noise",
            str(noise),
            "--reps",
            "200",
            "--quiet",
        ],
    )
    assert plan.exit_code == 0, plan.output
    assert "store (`support-v1@sha256:" in plan.stdout
    # the same profile for a plan whose baseline is the other model: refused, exit 2
    other = CliRunner().invoke(
        cli,
        [
            "plan",
            "--models",
            str(MODELS_FILE),
            "--baseline",
            "support-v2",
            "--candidate",
            "support-v1",
            "--rate",
            "300",
            "--noise",
            str(noise),
            "--quiet",
        ],
    )
    assert other.exit_code == 2
    assert "--noise" in other.stderr


def test_a_split_of_two_models_is_not_an_aa(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    store = SQLiteStore(home / "store.db")
    records = aa_records("a" * 64, windows=2, drift=0.0)
    store.append_records(
        [
            r
            if r.arm is Arm.BASELINE
            else RequestRecord(
                **{**{f: getattr(r, f) for f in r.__slots__}, "model_digest": "b" * 64}
            )
            for r in records
        ]
    )
    store.close()
    result = CliRunner().invoke(cli, ["calibrate", "--home", str(home)])
    assert result.exit_code == 2
    assert "not an A/A split" in result.stderr


def test_cli_simulation_writes_a_profile(tmp_path: Path) -> None:
    noise = tmp_path / "noise.json"
    result = CliRunner().invoke(
        cli,
        [
            "calibrate",
            "--simulate",
            "--rate",
            "600",
            "--hours",
            "1",
            "--runs",
            "2",
            "--models",
            str(MODELS_FILE),
            "--model",
            "support-v1",
            "--json",
            str(noise),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "# Noise floor calibration" in result.stdout
    profile = load_noise(noise)
    assert profile.model == versions()[0].ref
    assert profile.source == "simulation"
    bad = CliRunner().invoke(cli, ["calibrate", "--simulate", "--rate", "0"])
    assert bad.exit_code == 2
    assert "--rate" in bad.stderr
