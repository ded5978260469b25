"""The "Rollback" section: how long it takes and the procedure."""

from __future__ import annotations

from ..model import Plan


def rollback_section(plan: Plan) -> list[str]:
    rb = plan.rollback
    name = plan.spec.name
    total = rb.total_seconds
    limit = "under" if rb.under_60s else "NOT under"
    head = (
        f"**Time: measured; about {total:.1f} s to this candidate's last answer, {limit} 60 s.**"
        if rb.measured is not None
        else f"**Time: about {total:.1f} s to the last candidate answer (an estimate), {limit} "
        "60 s.**"
    )
    return [
        f"{head} {rb.basis[0].upper()}{rb.basis[1:]}",
        "",
        "Procedure (no controller and no redeploy needed):",
        "",
        "```sh",
        f'llm-rollout rollback {name} --reason "why"   # commits the rollback policy, then returns',
        "curl -s http://GATEWAY:8080/readyz   # each replica: policy_version >= the one printed",
        f"llm-rollout status {name}                      # phase rolled_back, candidate weight 0",
        f"llm-rollout history {name}                     # the evidence of every transition",
        "```",
        "",
        "Infrastructure it requires: every gateway replica reads the same store (SQLite file on "
        "one machine, PostgreSQL beyond one) and polls its policy version (`policy_poll_interval`, "
        "50 ms); the operator (or the controller, or the admin API) can write to that store. "
        "Rollback writes one policy version: candidate weight 0, shadow off, baseline pinned. "
        "Requests already on the candidate finish there; every request that starts after a "
        "replica's next poll goes to the baseline.",
    ]
