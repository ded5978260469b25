"""llm-rollout: progressive delivery for LLMs."""

from .errors import (
    ConflictError,
    InvalidDataError,
    LlmRolloutError,
    RegistryError,
    SpecError,
    StoreError,
)
from .records import Arm, ArmWindow, Feedback, Prices, RequestRecord, Role, Status, Window, cost_usd
from .spec import RolloutSpec, load_spec, parse_spec

__version__ = "0.1.0"

__all__ = [
    "Arm",
    "ArmWindow",
    "ConflictError",
    "Feedback",
    "InvalidDataError",
    "LlmRolloutError",
    "Prices",
    "RegistryError",
    "RequestRecord",
    "Role",
    "RolloutSpec",
    "SpecError",
    "Status",
    "StoreError",
    "Window",
    "__version__",
    "cost_usd",
    "load_spec",
    "parse_spec",
]
