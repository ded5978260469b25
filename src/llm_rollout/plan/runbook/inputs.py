"""The "Inputs" section: the models, traffic, risk level, noise and cost policy the plan used."""

from __future__ import annotations

from ..inputs import ModelInput
from ..model import Plan
from ..text import table


def _model_detail(m: ModelInput) -> str:
    return (
        f"{m.price_input:g} / {m.price_output:g} USD per 1M tokens in / out; "
        f"{m.prompt_tokens:g} prompt + {m.completion_tokens:.0f} completion tokens per request"
    )


def inputs_section(plan: Plan) -> list[str]:
    i = plan.inputs
    b = i.behaviour
    noise = i.noise
    rows = [
        [
            "baseline",
            f"`{i.baseline.ref}`",
            _model_detail(i.baseline),
        ],
        [
            "candidate",
            f"`{i.candidate.ref}`",
            _model_detail(i.candidate),
        ],
        [
            "traffic",
            f"{i.rate:g} requests/minute",
            "daily cycle amplitude " + (f"{i.daily_cycle:.0%}" if i.daily_cycle else "none"),
        ],
        ["risk level", f"`{i.risk.name}`", i.risk.description],
        [
            "noise",
            noise.source + ("" if noise.model is None else f" (`{noise.model}`)"),
            f"drift +-{noise.drift:.1%} per arm and window, +-{noise.run_variation:.1%} per run; "
            + noise.description,
        ],
        [
            "baseline behaviour",
            "assumed" if i.behaviour_assumed else "measured",
            f"latency median {b.latency_ms:g} ms (sigma {b.latency_sigma:g}), errors "
            f"{b.error_rate:.2%}, refusals {b.refusal_rate:.2%}, thumbs-down "
            f"{b.thumbs_down_rate:.2%} per request",
        ],
        [
            "cost policy",
            f"`{i.cost_policy}`",
            "judge cost against the baseline"
            if i.cost_policy == "strict"
            else "judge cost against the candidate's planned cost; quality must pay for it",
        ],
    ]
    return [table(["input", "value", "detail"], rows)]
