"""The gateway: an OpenAI-compatible ASGI data plane that routes by the rollout policy,
mirrors shadow traffic, and records every upstream call.

    app = create_app(load_config({"home": "/srv/llm"}))   # run with any ASGI server
    serve(config)                                          # or let llm-rollout run it
"""

from .app import Gateway, create_app
from .capture import RefusalMatcher, StreamCapture, Usage, summarize_body
from .config import DEFAULT_REFUSAL_PHRASES, GatewayConfig, load_config
from .errors import GatewayHTTPError, error_body
from .h1 import H1Upstream
from .server import serve
from .upstream import (
    AiohttpUpstream,
    ASGIUpstream,
    Upstream,
    UpstreamResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = [
    "DEFAULT_REFUSAL_PHRASES",
    "ASGIUpstream",
    "AiohttpUpstream",
    "Gateway",
    "GatewayConfig",
    "GatewayHTTPError",
    "H1Upstream",
    "RefusalMatcher",
    "StreamCapture",
    "Upstream",
    "UpstreamResponse",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "Usage",
    "create_app",
    "error_body",
    "load_config",
    "serve",
    "summarize_body",
]
