"""What-if edits of a spec's gate bounds, for sweeps: scale every breach margin by one factor.

``scale_bounds(spec, m)`` moves each bound's distance from "no change" by ``m``: a ratio bound
``b`` becomes ``1 + (b - 1) m`` (cost 1.2 -> 1.1 at m = 0.5), the output-length band
``[lo, hi]`` becomes ``[1 - (1 - lo) m, 1 + (hi - 1) m]``, a rate gate's ratio ``r`` becomes
``1 + (r - 1) m`` and its floor ``floor x m``, the KS distance ``ks x m``, and every shadow
alert ``above`` like a ratio bound. ``m = 1`` is the spec itself.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import SpecError
from ..spec import GateName, RolloutSpec, parse_spec


def _ratio(b: float | None, m: float) -> float | None:
    return None if b is None else 1 + (b - 1) * m


def scale_bounds(spec: RolloutSpec, m: float) -> RolloutSpec:
    if not (math.isfinite(m) and m > 0):
        raise SpecError([("bound_scale", f"must be a finite number > 0, got {m!r}")], "spec")
    if m == 1:
        return spec
    doc: dict[str, Any] = spec.model_dump(mode="json")
    gates = doc["gates"]
    gates["cost"]["bound"] = _ratio(gates["cost"]["bound"], m)
    for key in ("p50", "p95", "p99", "ttft_p99"):
        gates["latency"][key] = _ratio(gates["latency"][key], m)
    length = gates["output_length"]
    if length["mean"] is not None:
        lo, hi = length["mean"]
        length["mean"] = [1 - (1 - lo) * m, 1 + (hi - 1) * m]
    length["p99"] = _ratio(length["p99"], m)
    if length["ks"] is not None:
        length["ks"] = length["ks"] * m
    for name in (GateName.ERRORS, GateName.REFUSALS, GateName.FEEDBACK):
        gates[name]["ratio"] = _ratio(gates[name]["ratio"], m)
        gates[name]["floor"] = gates[name]["floor"] * m
    for alert in doc["shadow"]["alerts"]:
        alert["above"] = _ratio(alert["above"], m)
    return parse_spec(doc, f"spec {spec.name} with bounds x{m:g}")
