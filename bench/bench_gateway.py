"""Gateway benchmark: overhead, throughput, shadow cost and streaming TTFT, side by side.

One command (about three minutes)::

    python bench/bench_gateway.py                  # uvicorn, the default server
    python bench/bench_gateway.py --servers uvicorn,granian
    python bench/bench_gateway.py --quick --clients httptools,aiohttp   # upstream clients

Everything runs on this machine: mock-model upstreams (``--speed 0`` where the upstream must
cost nothing), the gateway as its own process, and the load generator (``wrk`` when installed,
else an aiohttp generator in a separate process). They share the machine's cores, so absolute
numbers are a floor; the ratios against "direct to the same mock" are the point. Rounds are
interleaved (gateway, direct, gateway, ...) and medians of round medians are reported.

``--pin`` puts the gateway alone on CPU 0 and everything else (mocks, load generator, this
script) on CPU 1. Unpinned, the mocks' and the load generator's work competes with the
gateway's, and with 100% mirroring the mocks answer twice the calls, so the shadow ratio
measures the rig as much as the gateway; pinned, the gateway's core is the bottleneck and the
ratio is the gateway's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_rollout.policy import Policy, Route
from llm_rollout.registry import ModelVersion
from llm_rollout.store import open_store

FAST = {
    "latency_ms": 1,
    "latency_sigma": 0,
    "ttft_ms": 1,
    "ttft_sigma": 0,
    "completion_tokens": 16,
    "completion_sigma": 0,
    "error_rate": 0,
    "refusal_rate": 0,
    "cached_fraction": 0.25,
    "prompt_tokens": 50,
}
REAL = {**FAST, "latency_ms": 20, "ttft_ms": 10}  # a 20 ms upstream for the shadow test
SLOW = {**REAL, "latency_ms": 200, "ttft_ms": 100}  # the candidate, 10x slower
STREAM = {**FAST, "latency_ms": 40, "ttft_ms": 20}
BODY = {"model": "{model}", "messages": [{"role": "user", "content": "Say hello"}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.05)


GATEWAY_CPU, RIG_CPU = 0, 1


class Procs:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen[bytes]) -> None:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.remove(p)

    def stop_all(self) -> None:
        for p in list(self.procs):
            self.stop(p)


def mock(procs: Procs, profile: dict[str, Any], speed: float) -> int:
    port = free_port()
    procs.start(
        [
            sys.executable,
            "-m",
            "llm_rollout.mock",
            "--port",
            str(port),
            "--seed",
            "1",
            "--speed",
            str(speed),
            "--profile",
            json.dumps(profile),
        ]
    )
    wait_http(f"http://127.0.0.1:{port}/v1/models")
    return port


# --- load generation -------------------------------------------------------------------
@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def _ms(text: str, pct: str) -> float:
    m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m:
        raise RuntimeError(f"no {pct}% latency in wrk output:\n{text}")
    value = float(m.group(1))
    return {"us": value / 1000, "ms": value, "s": value * 1000}[m.group(2)]


def run_wrk(url: str, body: dict[str, Any], connections: int, seconds: float) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(json.dumps(body))}\n"
        )
        script = f.name
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "-s",
                script,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(x) for x in sock.groups()) if sock else 0
    )
    return Load(rps, _ms(out, "50"), _ms(out, "99"), errors, total)


async def _aiohttp_load(url: str, body: bytes, connections: int, seconds: float) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    conn = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    async with session.post(
                        url, data=body, headers={"content-type": "application/json"}
                    ) as resp:
                        await resp.read()
                        ok = resp.status == 200
                except aiohttp.ClientError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors,
        "requests": len(latencies),
    }


def run_load(url: str, body: dict[str, Any], connections: int, seconds: float) -> Load:
    if shutil.which("wrk"):
        return run_wrk(url, body, connections, seconds)
    # no wrk: the aiohttp generator in its own process, so it does not share our interpreter
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "loadgen",
            url,
            json.dumps(body),
            str(connections),
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return Load(**json.loads(out))


async def _ttft(url: str, body: dict[str, Any], n: int) -> list[float]:
    import aiohttp

    out = []
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            t0 = time.perf_counter()
            async with session.post(url, json=body) as resp:
                first = None
                async for line in resp.content:
                    if (
                        first is None
                        and line.startswith(b"data: {")
                        and b'"content":"' in line
                        and b'"content":""' not in line
                    ):
                        first = time.perf_counter() - t0
                out.append(first if first is not None else float("nan"))
    return out


# --- scenarios -------------------------------------------------------------------------
def body_for(model: str, stream: bool = False) -> dict[str, Any]:
    b: dict[str, Any] = {**BODY, "model": model}
    if stream:
        b["stream"] = True
    return b


def med(values: list[float]) -> float:
    return statistics.median(values)


@dataclass
class Setup:
    gw: str
    fast: str
    real: str
    stream: str


def start_all(
    procs: Procs, server: str, home: Path, client: str = "httptools", pin: bool = False
) -> Setup:
    ports = {
        "fast": mock(procs, FAST, 0),
        "fast_cand": mock(procs, FAST, 0),
        "real": mock(procs, REAL, 1),
        "slow": mock(procs, SLOW, 1),
        "stream": mock(procs, STREAM, 1),
    }
    store = open_store(home)
    versions = {}
    for name, port in ports.items():
        v = ModelVersion(
            name=name,
            endpoint=f"http://127.0.0.1:{port}/v1",
            upstream_model=name,
            prices={"input": 0.15, "output": 0.6},
        )
        store.put_model(v)
        versions[name] = v.digest
    routes = {
        "plain": Route(baseline=versions["fast"]),
        "mirrored": Route(
            baseline=versions["fast"],
            candidate=versions["fast_cand"],
            shadow_sample=1.0,
            shadow_max_concurrency=256,
        ),
        "real-off": Route(baseline=versions["real"], candidate=versions["slow"]),
        "real-on": Route(
            baseline=versions["real"],
            candidate=versions["slow"],
            shadow_sample=1.0,
            shadow_max_concurrency=1024,
        ),
        "stream": Route(baseline=versions["stream"]),
    }
    store.publish_policy(Policy(0, routes).to_doc(), "bench", "bench", time.time())
    store.close()
    config = home / "gateway.yaml"
    config.write_text(json.dumps({"upstream_client": client}))  # JSON is YAML
    gw_port = free_port()
    gateway = procs.start(
        [
            sys.executable,
            "-c",
            "from llm_rollout.cli import main; main()",
            "serve",
            "--home",
            str(home),
            "--port",
            str(gw_port),
            "--server",
            server,
            "--config",
            str(config),
        ]
    )
    if pin:  # before the server starts its threads, which inherit the mask
        os.sched_setaffinity(gateway.pid, {GATEWAY_CPU})
    wait_http(f"http://127.0.0.1:{gw_port}/readyz")
    base = "http://127.0.0.1:{}/v1/chat/completions"
    return Setup(
        base.format(gw_port),
        base.format(ports["fast"]),
        base.format(ports["real"]),
        base.format(ports["stream"]),
    )


def sequential_overhead(s: Setup, rounds: int, seconds: float) -> dict[str, float]:
    gw, direct = [], []
    for _ in range(rounds):
        gw.append(run_load(s.gw, body_for("plain"), 1, seconds).p50_ms)
        direct.append(run_load(s.fast, body_for("plain"), 1, seconds).p50_ms)
    return {
        "gateway_p50_ms": med(gw),
        "direct_p50_ms": med(direct),
        "overhead_ms": med([g - d for g, d in zip(gw, direct, strict=True)]),
    }


def throughput(s: Setup, rounds: int, seconds: float) -> dict[str, Any]:
    res: dict[str, list[Load]] = {"gateway": [], "mirrored": [], "direct": []}
    for _ in range(rounds):
        res["gateway"].append(run_load(s.gw, body_for("plain"), 32, seconds))
        res["mirrored"].append(run_load(s.gw, body_for("mirrored"), 32, seconds))
        res["direct"].append(run_load(s.fast, body_for("plain"), 32, seconds))
    out: dict[str, Any] = {}
    for k, loads in res.items():
        out[k] = {
            "rps": med([x.rps for x in loads]),
            "p50_ms": med([x.p50_ms for x in loads]),
            "p99_ms": med([x.p99_ms for x in loads]),
            "errors": sum(x.errors for x in loads),
            "requests": sum(x.requests for x in loads),
        }
    out["mirrored_vs_gateway"] = out["mirrored"]["rps"] / out["gateway"]["rps"]
    # each round's own ratio (its two runs are back to back): shows how much the machine's
    # other load moved the figure above
    out["mirrored_vs_gateway_rounds"] = [
        m.rps / g.rps for m, g in zip(res["mirrored"], res["gateway"], strict=True)
    ]
    out["gateway_vs_direct"] = out["gateway"]["rps"] / out["direct"]["rps"]
    return out


def shadow_impact(s: Setup, rounds: int, seconds: float, connections: int) -> dict[str, Any]:
    off, on, again = [], [], []
    for _ in range(rounds):  # off, on, off again: the second "off" shows the noise floor
        off.append(run_load(s.gw, body_for("real-off"), connections, seconds))
        on.append(run_load(s.gw, body_for("real-on"), connections, seconds))
        again.append(run_load(s.gw, body_for("real-off"), connections, seconds))
    p = {
        "off_p50_ms": med([x.p50_ms for x in off]),
        "on_p50_ms": med([x.p50_ms for x in on]),
        "off_p99_ms": med([x.p99_ms for x in off]),
        "on_p99_ms": med([x.p99_ms for x in on]),
        "off_rps": med([x.rps for x in off]),
        "on_rps": med([x.rps for x in on]),
        "errors": sum(x.errors for x in off + on),
    }
    p["p50_ratio"] = p["on_p50_ms"] / p["off_p50_ms"]
    p["p99_ratio"] = p["on_p99_ms"] / p["off_p99_ms"]
    p["aa_p50_ratio"] = med([x.p50_ms for x in again]) / p["off_p50_ms"]
    p["aa_p99_ratio"] = med([x.p99_ms for x in again]) / p["off_p99_ms"]
    return p


def streaming_ttft(s: Setup, rounds: int, n: int) -> dict[str, float]:
    gw, direct = [], []
    for _ in range(rounds):
        gw.append(med(asyncio.run(_ttft(s.gw, body_for("stream", True), n))) * 1000)
        direct.append(med(asyncio.run(_ttft(s.stream, body_for("stream", True), n))) * 1000)
    return {
        "gateway_ttft_ms": med(gw),
        "direct_ttft_ms": med(direct),
        "added_ms": med([g - d for g, d in zip(gw, direct, strict=True)]),
    }


def bench(server: str, quick: bool, client: str = "httptools", pin: bool = False) -> dict[str, Any]:
    procs = Procs()
    rounds = 3 if quick else 5
    secs = 2.0 if quick else 4.0
    with tempfile.TemporaryDirectory() as home:
        try:
            s = start_all(procs, server, Path(home), client, pin)
            run_load(s.gw, body_for("plain"), 32, 1)  # warm up pools and caches
            run_load(s.gw, body_for("mirrored"), 32, 1)
            load_before = os.getloadavg()[0]
            return {
                "server": server,
                "client": client,
                "pinned": pin,
                "sequential": sequential_overhead(s, rounds, secs / 2),
                "throughput_c32": throughput(s, max(3, rounds - 2), secs),
                "shadow_impact_c8": shadow_impact(s, rounds, secs, 8),
                "streaming": streaming_ttft(s, rounds, 40 if quick else 80),
                "loadavg": (load_before, os.getloadavg()[0]),
            }
        finally:
            procs.stop_all()


def report(r: dict[str, Any]) -> None:
    seq, tp, sh, st = (r["sequential"], r["throughput_c32"], r["shadow_impact_c8"], r["streaming"])

    def mark(ok: bool) -> str:
        return "meets" if ok else "BELOW TARGET"

    cores = (
        f"gateway alone on CPU {GATEWAY_CPU}, load generator and mocks on CPU {RIG_CPU}"
        if r.get("pinned")
        else "2 cores shared by load generator, gateway, mocks"
    )
    print(
        f"\n== server: {r['server']}, upstream client: {r['client']}  ({cores};"
        f" load generator: {'wrk' if shutil.which('wrk') else 'aiohttp'})"
    )
    print(f"load average before / after: {r['loadavg'][0]:.1f} / {r['loadavg'][1]:.1f}")
    print(
        f"sequential p50: gateway {seq['gateway_p50_ms']:.3f} ms, direct "
        f"{seq['direct_p50_ms']:.3f} ms -> overhead {seq['overhead_ms']:.3f} ms "
        f"(target <= 1 ms: {mark(seq['overhead_ms'] <= 1)})"
    )
    g, m, d = tp["gateway"], tp["mirrored"], tp["direct"]
    print(
        f"throughput c=32: gateway {g['rps']:.0f} rps p50 {g['p50_ms']:.2f} p99 "
        f"{g['p99_ms']:.2f} ms errors {g['errors']}/{g['requests']} "
        f"(target >= 1000 rps, p99 <= 50 ms, 0 errors: "
        f"{mark(g['rps'] >= 1000 and g['p99_ms'] <= 50 and g['errors'] == 0)})"
    )
    print(
        f"                 direct  {d['rps']:.0f} rps p50 {d['p50_ms']:.2f} p99 "
        f"{d['p99_ms']:.2f} ms  (gateway/direct {tp['gateway_vs_direct']:.2f})"
    )
    print(
        f"100% shadow c=32: {m['rps']:.0f} rps p99 {m['p99_ms']:.2f} ms errors "
        f"{m['errors']} = {tp['mirrored_vs_gateway']:.0%} of no-shadow "
        f"(target >= 60%: {mark(tp['mirrored_vs_gateway'] >= 0.6)})"
    )
    rounds = ", ".join(f"{x:.0%}" for x in tp["mirrored_vs_gateway_rounds"])
    print(f"                  round by round: {rounds}")
    print(
        f"shadow impact c=8 (20 ms upstream, candidate 200 ms): p50 {sh['off_p50_ms']:.2f} -> "
        f"{sh['on_p50_ms']:.2f} ms ({sh['p50_ratio']:.3f}x), p99 {sh['off_p99_ms']:.2f} -> "
        f"{sh['on_p99_ms']:.2f} ms ({sh['p99_ratio']:.3f}x), errors {sh['errors']} "
        f"(target within 5%: "
        f"{mark(abs(sh['p50_ratio'] - 1) <= 0.05 and abs(sh['p99_ratio'] - 1) <= 0.05)})"
    )
    print(
        f"  noise floor, shadow off vs off again: p50 {sh['aa_p50_ratio']:.3f}x, "
        f"p99 {sh['aa_p99_ratio']:.3f}x"
    )
    print(
        f"streaming TTFT median: gateway {st['gateway_ttft_ms']:.3f} ms, direct "
        f"{st['direct_ttft_ms']:.3f} ms -> added {st['added_ms']:.3f} ms "
        f"(target <= 1 ms: {mark(st['added_ms'] <= 1)})"
    )


def _names(csv: str) -> list[str]:
    return [name.strip() for name in csv.split(",") if name.strip()]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "loadgen":
        url, body, conns, secs = sys.argv[2:6]
        print(json.dumps(asyncio.run(_aiohttp_load(url, body.encode(), int(conns), float(secs)))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--servers", default="uvicorn", help="comma-separated: uvicorn,granian")
    ap.add_argument(
        "--clients", default="httptools", help="comma-separated upstream clients: httptools,aiohttp"
    )
    ap.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument(
        "--pin", action="store_true", help="gateway alone on CPU 0, everything else on CPU 1"
    )
    args = ap.parse_args()
    if args.pin:  # mocks and the load generator are our children: they inherit this mask
        os.sched_setaffinity(0, {RIG_CPU})
    results = [
        bench(server, args.quick, client, args.pin)
        for server in _names(args.servers)
        for client in _names(args.clients)
    ]
    for r in results:
        report(r)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
