"""What the demo rolls out: two model behaviours, the injected regression, a compressed spec.

Pure: no processes, no clock. The demo's time scale is compressed about 150-fold against
``examples/rollout.yaml`` (a step dwells seconds, not an hour), so the spec here scales every
sample minimum to the traffic rate, and the regressions are large enough to be confirmed within
the few hundred candidate requests a compressed step sees: an 8% error rate or a doubled
thumbs-down rate needs thousands of requests per arm to be confirmed at the rollout's alpha,
which is minutes to hours of real traffic (``llm-rollout simulate`` says how long), not seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..profile import ModelProfile
from ..records import Arm
from ..registry import ModelVersion, PriceTable
from ..spec import GateName, RolloutSpec, parse_spec

REGRESSIONS = ("cost", "latency", "refusal", "errors", "feedback", "none")
MODEL = "assistant"  # the logical model the clients ask for
BASELINE_NAME = "assistant-v1"
CANDIDATE_NAME = "assistant-v2"

# Realistic behaviour (800 ms median answers); the mock servers run it with SPEED, so a request
# takes about 40 ms of real time and the demo sustains a few hundred requests per second.
SPEED = 0.05
BASELINE = ModelProfile(
    latency_ms=800.0,
    latency_sigma=0.35,
    ttft_ms=250.0,
    ttft_sigma=0.3,
    prompt_tokens=400.0,
    completion_tokens=160.0,
    completion_sigma=0.5,
    error_rate=0.005,
    refusal_rate=0.01,
    thumbs_down_rate=0.05,
    drift=0.0,  # the mock draws from one distribution; run-to-run drift is the simulator's
)

STEPS = (5, 10, 25, 50, 100)
STEP_DWELL = 5.0  # seconds at each step before it may advance
CHECK_INTERVAL = 1.0


@dataclass(frozen=True)
class DemoScenario:
    """The two arms of one demo run and the words that describe the regression."""

    regression: str
    baseline: ModelProfile
    candidate: ModelProfile
    price_factor: float  # candidate prices = baseline prices x this
    description: str

    def thumbs_down(self) -> dict[Arm, float]:
        """Probability that a served response gets a thumbs-down, per arm (the traffic
        generator rates responses; the mock model knows nothing of feedback)."""
        return {
            Arm.BASELINE: self.baseline.thumbs_down_rate,
            Arm.CANDIDATE: self.candidate.thumbs_down_rate,
        }


def make_scenario(regression: str) -> DemoScenario:
    """The demo's arms for one ``--regression``; ValueError for an unknown name."""
    base = BASELINE
    if regression == "cost":
        return DemoScenario(
            regression, base, base, 2.0, "candidate prices x2 (a pricier tier, same tokens)"
        )
    if regression == "latency":
        cand = base.scaled(latency_ms=2.5, ttft_ms=2.5)
        return DemoScenario(regression, base, cand, 1.0, "candidate latency and TTFT x2.5")
    if regression == "refusal":
        cand = replace(base, refusal_rate=0.30)
        return DemoScenario(regression, base, cand, 1.0, "candidate refuses 30% (baseline 1%)")
    if regression == "errors":
        cand = replace(base, error_rate=0.25)
        return DemoScenario(regression, base, cand, 1.0, "candidate fails 25% (baseline 0.5%)")
    if regression == "feedback":
        cand = replace(base, thumbs_down_rate=0.40)
        return DemoScenario(
            regression, base, cand, 1.0, "users thumb down 40% of candidate answers (baseline 5%)"
        )
    if regression == "none":
        return DemoScenario(regression, base, base, 1.0, "no regression (candidate = baseline)")
    raise ValueError(f"unknown regression {regression!r}; expected one of {', '.join(REGRESSIONS)}")


def model_versions(
    sc: DemoScenario, baseline_endpoint: str, candidate_endpoint: str
) -> tuple[ModelVersion, ModelVersion]:
    """The two registry entries: each points at its own mock server; prices from the profile."""
    base_prices = PriceTable(input=sc.baseline.price_input, output=sc.baseline.price_output)
    cand_prices = PriceTable(
        input=sc.candidate.price_input * sc.price_factor,
        output=sc.candidate.price_output * sc.price_factor,
    )
    baseline = ModelVersion(
        name=BASELINE_NAME,
        endpoint=baseline_endpoint,
        upstream_model="mock-assistant",
        params={"temperature": 0.2},
        prompt_template="You are a helpful assistant. Answer briefly.",
        prices=base_prices,
        timeout=10.0,
    )
    candidate = ModelVersion(
        name=CANDIDATE_NAME,
        endpoint=candidate_endpoint,
        upstream_model="mock-assistant-next",
        params={"temperature": 0.2},
        prompt_template="You are a helpful assistant. Answer briefly and cite sources.",
        prices=cand_prices,
        timeout=10.0,
    )
    return baseline, candidate


def _min_samples(rate: float, weight: float, dwell: float) -> int:
    """Half the requests the smaller arm expects during the dwell (the step must not wait
    on a slow second), at least 5."""
    share = 1.0 if weight >= 100 else min(weight, 100 - weight) / 100
    return max(5, int(0.5 * rate * share * dwell))


def demo_spec(name: str, baseline_ref: str, candidate_ref: str, rate: float) -> RolloutSpec:
    """The compressed rollout: a 2 s shadow look, then 5% -> 10% -> 25% -> 50% -> 100%, each
    dwelling 5 s and judged every second.

    Departures from the defaults, and why:

    - ``require: no-breach``: proving a P99 ratio or a 1% rate *inside* its bound takes
      thousands of samples per arm, far more than a 5 s step sees; no-breach advances unless a
      critical gate confidently fails, which the injected regressions do within a step or two.
    - the shadow phase mirrors 5% for 2 s: long enough to show mirroring, too short to confirm
      a regression, so the demo halts in the canary where the rollback time can be measured.
      (In production a shadow phase of minutes stops such a candidate before any user sees it.)
    - the first step is 5%, not 1%: at a few hundred requests per second, 1% gives the first
      check of the step two or three candidate requests, and the asymptotic confidence
      sequence for a mean (cost, output length) is not valid on so few; 5% gives about ten.
    - ``max_dwell`` six times the dwell, then hold: a stuck step pauses rather than advancing.
    """
    steps = [
        {
            "weight": w,
            "min_dwell": STEP_DWELL,
            "min_samples": _min_samples(rate, w, STEP_DWELL),
            "max_dwell": 6 * STEP_DWELL,
        }
        for w in STEPS
    ]
    doc = {
        "name": name,
        "baseline": baseline_ref,
        "candidate": candidate_ref,
        "logical_model": MODEL,
        "alpha": 0.01,
        "check_interval": CHECK_INTERVAL,
        "require": "no-breach",
        "on_inconclusive": "hold",
        "shadow": {
            "sample": 0.05,
            "min_duration": 2.0,
            "min_samples": 10,
            "max_duration": 12.0,
            "timeout": 10.0,
        },
        "steps": steps,
        "gates": {
            # min_samples matters to the threshold method only; scaled like the steps'.
            gate.value: {"min_samples": 30}
            for gate in GateName
        }
        | {"srm": {"min_samples": 100}},
    }
    return parse_spec(doc, "demo spec")
