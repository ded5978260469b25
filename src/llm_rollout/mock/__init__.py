"""A simulated OpenAI-compatible model server driven by a ModelProfile (demos, tests, benchmarks).

app = MockModel(ModelProfile(latency_ms=50), seed=1, speed=0)   # an ASGI app
python -m llm_rollout.mock --profile '{"latency_ms": 50}' --port 9001
"""

from .app import MockModel
from .behaviour import REFUSAL_TEXT, Plan, draw
from .server import load_profile, run

__all__ = ["REFUSAL_TEXT", "MockModel", "Plan", "draw", "load_profile", "run"]
