"""Request validation: reject malformed bodies with the 400s OpenAI clients expect. Pure."""

from __future__ import annotations

import math
from typing import Any

import orjson

from .errors import GatewayHTTPError, bad_request

RATINGS = {"up": 1.0, "down": -1.0}


def parse_json(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise bad_request("The request body is empty; expected a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def _check_type(body: dict[str, Any], name: str, types: tuple[type, ...], what: str) -> None:
    value = body.get(name)
    if value is not None and (
        not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
    ):
        raise bad_request(f"Invalid type for '{name}': expected {what}.", name)


def parse_generation(raw: bytes, endpoint: str) -> dict[str, Any]:
    """A chat, completions or embeddings request body, checked for the fields we rely on."""
    body = parse_json(raw)
    model = body.get("model")
    if model is None:
        raise bad_request("You must provide a model parameter.", "model")
    if not isinstance(model, str) or not model:
        raise bad_request("Invalid type for 'model': expected a non-empty string.", "model")
    if endpoint == "chat":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise bad_request("'messages' must be a non-empty array.", "messages")
        if not all(isinstance(m, dict) for m in messages):
            raise bad_request("Each item of 'messages' must be an object.", "messages")
    elif endpoint == "completions":
        if not isinstance(body.get("prompt"), str | list):
            raise bad_request("'prompt' must be a string or an array.", "prompt")
    elif not isinstance(body.get("input"), str | list):
        raise bad_request("'input' must be a string or an array.", "input")
    _check_type(body, "stream", (bool,), "a boolean")
    _check_type(body, "stream_options", (dict,), "an object")
    _check_type(body, "user", (str,), "a string")
    _check_type(body, "max_tokens", (int,), "an integer")
    _check_type(body, "temperature", (int, float), "a number")
    return body


def parse_feedback(raw: bytes) -> tuple[str, float, str | None]:
    """``{request_id, rating: "up"|"down"|-1..1, label?}`` -> (request_id, rating, label)."""
    body = parse_json(raw)
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not request_id or len(request_id) > 200:
        raise bad_request("'request_id' must be a non-empty string.", "request_id")
    rating = body.get("rating")
    if isinstance(rating, str) and rating.lower() in RATINGS:
        value = RATINGS[rating.lower()]
    elif isinstance(rating, int | float) and not isinstance(rating, bool):
        value = float(rating)
        if not math.isfinite(value) or not -1.0 <= value <= 1.0:
            raise bad_request("'rating' must be within -1..1.", "rating")
    else:
        raise bad_request('\'rating\' must be "up", "down" or a number in -1..1.', "rating")
    label = body.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > 200):
        raise bad_request("'label' must be a string of at most 200 characters.", "label")
    return request_id, value, label


def not_found(path: str) -> GatewayHTTPError:
    return GatewayHTTPError(404, f"Unknown path {path}.", "invalid_request_error", "not_found")
