"""``python -m llm_rollout.mock`` serves a profile from a file; bad profiles fail clearly."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from llm_rollout.errors import SpecError
from llm_rollout.mock import load_profile


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_module_serves_a_profile_file(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("latency_ms: 5000\nlatency_sigma: 0\nerror_rate: 0\nrefusal_rate: 0\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llm_rollout.mock",
            "--profile",
            str(profile),
            "--port",
            str(port),
            "--speed",
            "0",
            "--seed",
            "3",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}]})
        deadline = time.monotonic() + 20
        while True:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                    data=body.encode(),
                    method="POST",
                )
                t0 = time.perf_counter()
                with urllib.request.urlopen(req, timeout=5) as resp:
                    answer = json.loads(resp.read())
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert time.perf_counter() - t0 < 1  # --speed 0: the 5 s latency is not slept
        assert answer["usage"]["completion_tokens"] > 0
    finally:
        proc.terminate()
        proc.wait(10)


def test_inline_json_and_defaults() -> None:
    assert load_profile('{"latency_ms": 12}').latency_ms == 12
    assert load_profile(None).latency_ms == 800


@pytest.mark.parametrize(
    "value", ['{"latency_ms": -1}', '{"colour": 1}', '{"latency_ms": "fast"}', "/no/such/file"]
)
def test_bad_profiles_raise_spec_errors(value: str) -> None:
    with pytest.raises(SpecError):
        load_profile(value)
