"""The "A/B step" section: whether one is advised, its order, rule and duration."""

from __future__ import annotations

from ..model import Plan
from ..text import count, duration, pct


def ab_section(plan: Plan) -> list[str]:
    ab = plan.ab
    if not ab.advised:
        return [f"Not advised: {ab.why}."]
    lines = [f"**Advised.** {ab.why}", ""]
    if ab.duration is None:
        lines.append(
            f"Design: {ab.weight:g}/{100 - ab.weight:g} split on `{ab.metric}`, rule "
            f"`{ab.rule}`. To confirm a {ab.quality_gain:.0%} thumbs-down reduction with "
            f"{plan.inputs.risk.power:.0%} power it would run longer than "
            f"{duration(plan.inputs.risk.ab_max_duration)} (power there {pct(ab.power, 0)}): "
            "left out of the spec."
        )
        return lines
    lines += [
        f"- Order: after the 100% soak the controller moves to the A/B step, a {ab.weight:g}% / "
        f"{100 - ab.weight:g}% split (the candidate's share goes back from 100% to "
        f"{ab.weight:g}%), metric `{ab.metric}` (thumbs-down per served request), rule "
        f"`{ab.rule}`"
        + (f" (margin {ab.margin:g})" if ab.rule == "non-inferiority" else "")
        + ", `on_inconclusive: rollback`. The rollout is **promoted only when the A/B rule "
        "PASSes** at the end of the step; a FAIL or an inconclusive end rolls it back.",
        f"- Duration **{duration(ab.duration)}**: {count(ab.samples_per_arm)} requests per arm "
        f"confirm a {ab.quality_gain:.0%} thumbs-down reduction with probability "
        f"{pct(ab.power, 0)} (the verdict is read once, at the end, with the A/B phase's alpha).",
    ]
    return lines
