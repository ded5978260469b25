"""OpenAI-style error bodies, and the one exception the request path raises to send one.

Every error the gateway answers with has the shape clients already parse::

    {"error": {"message": "...", "type": "...", "param": null, "code": "..."}}

Statuses: 400 malformed request, 401 missing/wrong gateway key, 404 unknown model or path,
405 wrong method, 413 body over the limit, 502 upstream unreachable, 504 upstream timeout,
and an upstream 5xx is passed on with its own status.
"""

from __future__ import annotations

import orjson


def error_body(
    message: str, type_: str, code: str | None = None, param: str | None = None
) -> bytes:
    return orjson.dumps(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )


class GatewayHTTPError(Exception):
    """Raised on the request path; the app turns it into a JSON error response."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param

    def body(self) -> bytes:
        return error_body(self.message, self.type, self.code, self.param)


def bad_request(message: str, param: str | None = None) -> GatewayHTTPError:
    return GatewayHTTPError(400, message, "invalid_request_error", "invalid_request", param)


def model_not_found(model: str) -> GatewayHTTPError:
    return GatewayHTTPError(
        404,
        f"The model {model!r} does not exist: it is neither a routed model nor a registered one.",
        "invalid_request_error",
        "model_not_found",
        "model",
    )


def upstream_timeout(seconds: float) -> GatewayHTTPError:
    return GatewayHTTPError(
        504, f"The upstream model did not answer within {seconds:g} s.", "upstream_error", "timeout"
    )


def upstream_unavailable(detail: str) -> GatewayHTTPError:
    return GatewayHTTPError(
        502, f"The upstream model could not be reached: {detail}", "upstream_error", "bad_gateway"
    )
