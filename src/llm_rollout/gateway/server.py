"""Run the gateway under an ASGI server: uvicorn (uvloop + httptools) by default, or granian.

One worker serves the whole machine's load in the measured setups (docs/gateway.md); with
``workers > 1`` each process builds its own app from the configuration passed in
``LLM_ROLLOUT_GATEWAY_CONFIG`` (client keys are re-read from ``api_key_env``, never passed).
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Mapping
from typing import Any

from ..errors import LlmRolloutError
from .app import Gateway
from .config import GatewayConfig, load_config

CONFIG_ENV = "LLM_ROLLOUT_GATEWAY_CONFIG"
FACTORY = "llm_rollout.gateway.server:worker_app"


def freeze_startup_heap() -> None:
    """Keep what exists before serving (modules, configuration, the app) out of the cyclic
    garbage collector's way.

    A full collection walks every tracked object: with the gateway's imports about 55,000,
    10-15 ms on the measured machine, during which no request moves (a tail-latency spike);
    shadow copies in flight make more objects survive young collections, so full ones come
    sooner. Frozen, those objects are skipped and a full collection only walks what the
    gateway allocated since. Called once per server process, just before it serves.
    """
    gc.collect()
    gc.freeze()


def worker_app(env: Mapping[str, str] | None = None) -> Gateway:
    """The app factory each worker process calls (uvicorn/granian ``factory=True``)."""
    env = os.environ if env is None else env
    raw = env.get(CONFIG_ENV)
    if raw is None:
        raise LlmRolloutError(f"{CONFIG_ENV} is not set: start workers with `llm-rollout serve`")
    app = Gateway(load_config(json.loads(raw), env=env), env=env)
    freeze_startup_heap()
    return app


def _worker_config(config: GatewayConfig) -> str:
    data: dict[str, Any] = config.model_dump(mode="json", exclude={"api_keys"})
    return json.dumps(data)


def serve(config: GatewayConfig, app: Gateway | None = None) -> None:
    """Serve until interrupted; SIGINT/SIGTERM shut down gracefully (records flushed)."""
    if config.server == "granian":
        _serve_granian(config)
        return
    import uvicorn

    common: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "log_level": "warning",
        "timeout_graceful_shutdown": 30,
    }
    if config.workers == 1:
        app = app or Gateway(config)
        freeze_startup_heap()
        uvicorn.run(app, **common)
        return
    os.environ[CONFIG_ENV] = _worker_config(config)
    uvicorn.run(FACTORY, factory=True, workers=config.workers, **common)


def _serve_granian(config: GatewayConfig) -> None:
    try:
        from granian import Granian
        from granian.constants import Interfaces, Loops
    except ImportError as exc:
        raise LlmRolloutError("server: granian is not installed (pip install granian)") from exc
    os.environ[CONFIG_ENV] = _worker_config(config)
    Granian(
        FACTORY,
        address=config.host,
        port=config.port,
        interface=Interfaces.ASGI,
        workers=config.workers,
        loop=Loops.uvloop,
        factory=True,
        websockets=False,
        log_access=False,
    ).serve()
