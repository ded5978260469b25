"""The planner: from "baseline, candidate, traffic, risk tolerance" to a rollout plan with numbers.

    inputs = build_inputs(versions, baseline=..., candidate=..., rate=600, risk="medium")
    plan = build_plan(inputs)                       # pure: a Plan dataclass
    render_markdown(plan)                           # the runbook
    plan_json(plan); spec_yaml(plan)                # JSON, and the spec `llm-rollout start` takes
    verify_plan(plan, runs=500)                     # the simulator's view of the same plan

Modules: :mod:`.risk` (what low / medium / high mean), :mod:`.noise` (the noise profile that
``llm-rollout calibrate`` writes), :mod:`.inputs`, :mod:`.detect` (detection probability of a
stage from the judge's confidence sequences), :mod:`.stages` (the phases as the detection model
sees them), :mod:`.rules` (the judge's FAIL rules of a spec, and the reference regressions),
:mod:`.planner` (the order of the decisions) and the decisions themselves: :mod:`.cost`,
:mod:`.bounds`, :mod:`.steps` (steps and dwell), :mod:`.shadow_phase` (sized by :mod:`.shadow`
from its gates' needs), :mod:`.ab_design` (with :mod:`.ab` for its duration),
:mod:`.detections`, :mod:`.planned_spec` (the spec from typed sections) and :mod:`.rollback`;
:mod:`.runbook` (one module per section), :mod:`.export`, :mod:`.verify`.
"""

from .export import plan_dict, plan_json, spec_document, spec_yaml
from .inputs import ModelInput, PlanInputs, build_inputs
from .model import Plan
from .noise import NoiseProfile, default_profile, load_noise
from .planner import build_plan
from .risk import RISK_LEVELS, RiskLevel, risk_level
from .rollback import RollbackEvidence, load_rollback
from .rules import REFERENCE
from .runbook import render_markdown
from .verify import TOLERANCE, Verification, verify_plan

__all__ = [
    "REFERENCE",
    "RISK_LEVELS",
    "TOLERANCE",
    "ModelInput",
    "NoiseProfile",
    "Plan",
    "PlanInputs",
    "RiskLevel",
    "RollbackEvidence",
    "Verification",
    "build_inputs",
    "build_plan",
    "default_profile",
    "load_noise",
    "load_rollback",
    "plan_dict",
    "plan_json",
    "render_markdown",
    "risk_level",
    "spec_document",
    "spec_yaml",
    "verify_plan",
]
