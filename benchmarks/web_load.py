"""Throughput and latency of the web app under concurrent load, on loopback, with the server it starts itself.

For each worker setting it starts, one after the other, a hello-world FastAPI app (one JSON endpoint, the
baseline) and ``paramcount serve --workers N``, each under the same uvicorn settings (``--workers N``, the
same HTTP protocol, access log off) on a free 127.0.0.1 port, and measures for ``--duration`` seconds each:

  - ``/hello``                              the hello-world endpoint: ``{"message": "Hello World"}``
  - ``/api/count?q=Conv2d(256, 512, 3)``    one popular query, answered from the app's cache
  - ``/api/count?q=Linear(<n>, 512)``       a new query on every request: parse, build and report each time
  - ``/answers/parameters-conv2d-256-512-kernel-3``   the HTML answer page (cached)
  - ``/answers/parameters-linear-<n>-512``  a new answer page on every request
  - ``/planner?q=gpt2&seq_len=512&batch=<n>`` (gpt2 reads at most 1,024 positions, so the batch varies),
    ``/planner?q=meta-llama/Llama-3.1-8B&optimizer=adamw&seq_len=<n>``
                                            the planner page with new options on every request

and prints each one's requests/s as a share of the hello-world's from the same run. Load comes from ``wrk``
when it is installed (``apt-get install wrk``; a Lua script varies ``<n>`` per thread and prints
p50/p95/p99), else from a bounded asyncio + httpx loop. Then it sends a burst of bad requests (syntax
errors, over-long queries, oversized bodies, paths, malformed JSON, unknown slugs) and checks that none
was a server error and that the server still answers correctly. Only loopback traffic; every phase is
bounded in time and in requests.

A shared machine's load moves requests/s by a factor of two between runs, so ``--in-process`` measures the
same scenarios without a server: each request goes straight through the ASGI app (``hello_world()``, then
``create_app()``) in this process, as uvicorn would pass it, and the best of ``--batches`` batches is taken
(load can only slow a batch down). ``--instructions`` adds the instructions per request (valgrind's
callgrind: a run serving ``--requests`` more requests minus one serving one), which other load does not
change. Neither includes uvicorn's own work per request (HTTP parsing, the socket), the same for both apps.

Run: python benchmarks/web_load.py [--workers 1 2] [--duration 10] [--connections 16] [--tool wrk|httpx]
     python benchmarks/web_load.py --in-process [--instructions] [--batches 8] [--requests 300]
(the hello-world app is ``hello_world`` below, started by uvicorn as a factory).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

HOST = "127.0.0.1"
MAX_DURATION_SECONDS = 60
MAX_PYTHON_REQUESTS = 200_000
BURST_REQUESTS = 2_000
POPULAR = "Conv2d(256, 512, 3)"
PAGE = "/answers/parameters-conv2d-256-512-kernel-3"
PROTOCOL = "paramcount.web.server:NoDelayH11Protocol"
"""What ``paramcount serve`` gives uvicorn (``paramcount.web.server.PROTOCOL``); the hello-world gets it too."""
NEW = "{n}"
"""In a scenario's path, a number new on every request (from 1, a separate range per load thread)."""
SCENARIOS = (
    ("hello-world FastAPI endpoint (the baseline)", "/hello"),
    ("`/api/count`, one popular query (cached)", f"/api/count?q={quote(POPULAR)}"),
    ("`/api/count`, a new query each request (`Linear(n, 512)`)", f"/api/count?q=Linear({NEW},%20512)"),
    ("answer page (HTML, cached)", PAGE),
    ("answer page, a new one each request (`parameters-linear-n-512`)", f"/answers/parameters-linear-{NEW}-512"),
    ("planner, new options each request (`gpt2`, `batch=n`)", f"/planner?q=gpt2&seq_len=512&batch={NEW}"),
    (
        "planner, new options each request (Llama-3.1-8B, AdamW, `seq_len=n`)",
        f"/planner?q=meta-llama%2FLlama-3.1-8B&optimizer=adamw&seq_len={NEW}",
    ),
)
"""(name, path) of each measurement; the first is served by the hello-world app, the others by paramcount."""

WRK_SCRIPT = """
local counter = 0
local pattern = os.getenv("PARAMCOUNT_PATH")
local threads = 0
setup = function(thread)
  thread:set("offset", threads * 10000000)
  threads = threads + 1
end
request = function()
  counter = counter + 1
  local path = string.gsub(pattern, "{n}", tostring((offset or 0) + counter))
  return wrk.format("GET", path)
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %d, \\"seconds\\": %f, \\"p50\\": %d, \\"p95\\": %d, \\"p99\\": %d, "
      .. "\\"non_2xx\\": %d, \\"socket_errors\\": %d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
"""


@dataclass(frozen=True, slots=True)
class Measurement:
    workers: int
    scenario: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failures: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (our own loopback server)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def hello_world() -> object:
    """The baseline: FastAPI's hello world, one JSON endpoint (uvicorn calls this factory in each worker)."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"message": "Hello World"}

    return app


def _start(workers: int, *, hello: bool = False) -> tuple[subprocess.Popen[bytes], str]:
    """``paramcount serve`` (or the hello-world app under the same uvicorn settings) on a free port."""
    port = _free_port()
    if hello:
        here = str(Path(__file__).parent)
        command = [sys.executable, "-m", "uvicorn", "web_load:hello_world", "--factory", "--app-dir", here]
        command += ["--http", PROTOCOL, "--no-access-log", "--log-level", "warning"]
        probe = "/hello"
    else:
        command = [sys.executable, "-m", "paramcount", "serve"]
        probe = f"/api/count?q={quote(POPULAR)}"
    command += ["--host", HOST, "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(f"{base}{probe}")[0] == 200:
                for _ in range(3 * workers):  # warm every worker's imports and caches
                    _get(f"{base}{probe if hello else PAGE}")
                return server, base
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server did not start within 60 s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()


def _wrk(base: str, path: str, *, duration: int, connections: int, script: Path) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(script), base]
    environment = {**os.environ, "PARAMCOUNT_PATH": path}
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=environment).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    result: dict[str, float] = json.loads(line.removeprefix("RESULT "))
    return result


async def _python_load(base: str, path: str, *, duration: int, connections: int) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    failures = 0
    counter = 0
    stop_at = time.perf_counter() + duration

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failures, counter
        while time.perf_counter() < stop_at and len(latencies) < MAX_PYTHON_REQUESTS:
            counter += 1
            target = base + path.replace(NEW, str(counter))
            started = time.perf_counter()
            response = await client.get(target)
            latencies.append(time.perf_counter() - started)
            failures += response.status_code >= 300

    started = time.perf_counter()
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "seconds": time.perf_counter() - started,
        "p50": quantiles[49] * 1e6,
        "p95": quantiles[94] * 1e6,
        "p99": quantiles[98] * 1e6,
        "non_2xx": failures,
        "socket_errors": 0,
    }


def _measure(base: str, workers: int, arguments: argparse.Namespace, script: Path, *, hello: bool) -> list[Measurement]:
    found = []
    for name, path in SCENARIOS[:1] if hello else SCENARIOS[1:]:
        options = {"duration": arguments.duration, "connections": arguments.connections}
        if arguments.tool == "wrk":
            raw = _wrk(base, path, script=script, **options)
        else:
            raw = asyncio.run(_python_load(base, path, **options))
        found.append(
            Measurement(
                workers,
                name,
                int(raw["requests"]),
                raw["seconds"],
                raw["p50"] / 1000,
                raw["p95"] / 1000,
                raw["p99"] / 1000,
                int(raw["non_2xx"] + raw["socket_errors"]),
            )
        )
        print(f"  {name}: {found[-1].per_second:,.0f} requests/s", flush=True)
    return found


async def _burst(base: str, connections: int) -> Counter[int]:
    import httpx

    long_query = "Linear(1, 1)" + " " * 20_000
    bad = [
        ("GET", "/api/count", {"params": {"q": "nn.Linear(3, 4).__class__"}}),
        ("GET", "/api/count", {"params": {"q": "Linear(3, 4"}}),
        ("GET", "/api/count", {"params": {"q": "10**10**10"}}),
        ("GET", "/api/count", {"params": {"q": "(" * 500}}),
        ("GET", "/api/count", {"params": {"q": "/etc/passwd"}}),
        ("GET", "/api/count", {"params": {"q": "config.json"}}),
        ("POST", "/api/count", {"json": {"q": long_query}}),
        ("POST", "/api/count", {"content": b"x" * 400_000, "headers": {"content-type": "application/json"}}),
        ("POST", "/api/count", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
        ("GET", "/answers/parameters-conv2d-10-4-kernel-3-groups-3", {}),
        ("GET", "/answers/../../etc/passwd", {}),
        ("GET", "/?q=%3Cscript%3E", {}),
    ]
    statuses: Counter[int] = Counter()
    semaphore = asyncio.Semaphore(connections)

    async def send(client: httpx.AsyncClient, index: int) -> None:
        method, path, options = bad[index % len(bad)]
        async with semaphore:
            response = await client.request(method, f"{base}{path}", **options)  # type: ignore[arg-type]
            statuses[response.status_code] += 1

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(send(client, index) for index in range(BURST_REQUESTS)))
    return statuses


def _check_still_serving(base: str) -> None:
    status, body = _get(f"{base}/api/count?q={quote('Linear(4096, 4096)')}")
    if status != 200 or json.loads(body)["total"] != 4096 * 4096 + 4096:
        raise SystemExit(f"after the burst the server answered {status}: {body[:200]!r}")


def _table(measurements: list[Measurement]) -> str:
    """One row per measurement; requests/s also as a share of the hello-world's with the same workers."""
    lines = [
        "| workers | endpoint | requests/s | of hello-world | p50 ms | p95 ms | p99 ms | non-2xx |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    baseline = {m.workers: m.per_second for m in measurements if m.scenario == SCENARIOS[0][0]}
    for m in measurements:
        share = f"{100 * m.per_second / baseline[m.workers]:.0f}%" if m.workers in baseline else ""
        lines.append(
            f"| {m.workers} | {m.scenario} | {m.per_second:,.0f} | {share} | {m.p50_ms:.1f} | {m.p95_ms:.1f} | "
            f"{m.p99_ms:.1f} | {m.failures} |"
        )
    return "\n".join(lines)


def _scope(path: str) -> dict[str, Any]:
    """The ASGI scope uvicorn gives an app for ``GET path`` over HTTP/1.1 on loopback."""
    route, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(route),
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", f"{HOST}:8000".encode())],
        "client": (HOST, 50000),
        "server": (HOST, 8000),
        "state": {},
    }


async def _serve_in_process(app: Any, path: str, requests: int, numbers: Iterator[int]) -> None:
    """``requests`` GET requests for ``path`` straight through the ASGI ``app``; each must answer 200."""
    statuses: Counter[int] = Counter()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses[message["status"]] += 1

    for _ in range(requests):
        await app(_scope(path.replace(NEW, str(next(numbers)))), receive, send)
    if set(statuses) != {200}:
        raise SystemExit(f"{path}: answered {dict(statuses)}")


def _app_for(index: int) -> Any:
    """The app serving scenario ``index``; paramcount's with a time budget that valgrind's slowdown fits in."""
    if index == 0:
        return hello_world()
    from paramcount.web.app import create_app
    from paramcount.web.settings import Settings

    return create_app(Settings(timeout_seconds=600.0))


def _time_in_process(batches: int, requests: int) -> dict[str, tuple[float, float]]:
    """Each scenario's best and median microseconds per request over ``batches`` batches, in this process."""
    timings = {}
    loop = asyncio.new_event_loop()
    apps = [_app_for(0), _app_for(1)]
    for index, (name, path) in enumerate(SCENARIOS):
        app, numbers = apps[min(index, 1)], itertools.count(1)
        loop.run_until_complete(_serve_in_process(app, path, 20, numbers))  # imports, caches, the popular answer
        samples = []
        for _ in range(batches):
            started = time.perf_counter()
            loop.run_until_complete(_serve_in_process(app, path, requests, numbers))
            samples.append((time.perf_counter() - started) / requests * 1e6)
        timings[name] = (min(samples), statistics.median(samples))
        print(f"  {name}: {timings[name][0]:,.0f} µs per request (best of {batches})", flush=True)
    loop.close()
    return timings


def _instructions(index: int, requests: int) -> int:
    """Instructions this script executes serving scenario ``index`` ``requests`` times after a warm-up."""
    command = [sys.executable, __file__, "--serve-in-process", str(index), str(requests)]
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{SCENARIOS[index][1]} under valgrind: {done.stderr.strip().splitlines()[-1:]}")
    return int(done.stderr.split("Collected : ")[1].split()[0])


def _in_process_table(arguments: argparse.Namespace) -> str:
    timings = _time_in_process(arguments.batches, arguments.requests)
    counted = {}
    if arguments.instructions:
        for index, (name, _) in enumerate(SCENARIOS):
            once = _instructions(index, 1)
            counted[name] = (_instructions(index, 1 + arguments.requests) - once) / arguments.requests
            print(f"  {name}: {counted[name] / 1e3:,.0f} k instructions per request", flush=True)
    hello = SCENARIOS[0][0]
    lines = [
        "| endpoint | best µs | median µs | of hello-world | k instructions | of hello-world |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, (best, median) in timings.items():
        row = f"| {name} | {best:,.0f} | {median:,.0f} | {100 * timings[hello][0] / best:.0f}% |"
        if name in counted:
            row += f" {counted[name] / 1e3:,.0f} | {100 * counted[hello] / counted[name]:.0f}% |"
        lines.append(row + (" | |" if name not in counted else ""))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--duration", type=int, default=10, help=f"seconds per scenario (at most {MAX_DURATION_SECONDS})"
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--tool", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx")
    parser.add_argument("--in-process", action="store_true", help="through the ASGI apps in this process, no server")
    parser.add_argument("--instructions", action="store_true", help="with --in-process: count instructions (valgrind)")
    parser.add_argument("--batches", type=int, default=8, help="with --in-process: timed batches per scenario")
    parser.add_argument("--requests", type=int, default=300, help="with --in-process: requests per batch")
    parser.add_argument("--serve-in-process", type=int, nargs=2, help=argparse.SUPPRESS)  # what callgrind runs
    arguments = parser.parse_args()
    if arguments.serve_in_process:
        index, requests = arguments.serve_in_process
        numbers, loop = itertools.count(1), asyncio.new_event_loop()
        app = _app_for(index)
        loop.run_until_complete(_serve_in_process(app, SCENARIOS[index][1], 20 + requests, numbers))
        return
    if arguments.in_process:
        print(f"in process: best of {arguments.batches} batches of {arguments.requests} requests")
        print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {os.getloadavg()}")
        print()
        print(_in_process_table(arguments))
        return
    arguments.duration = min(arguments.duration, MAX_DURATION_SECONDS)
    print(f"tool: {arguments.tool}; {arguments.connections} connections; {arguments.duration} s per scenario")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    measurements: list[Measurement] = []
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "paramcount.lua"
        script.write_text(WRK_SCRIPT)
        for workers in arguments.workers:
            print(f"workers: {workers}", flush=True)
            server, base = _start(workers, hello=True)
            try:
                measurements += _measure(base, workers, arguments, script, hello=True)
            finally:
                _stop(server)
            server, base = _start(workers)
            try:
                measurements += _measure(base, workers, arguments, script, hello=False)
                statuses = asyncio.run(_burst(base, arguments.connections))
                errors = sum(count for status, count in statuses.items() if status >= 500)
                print(f"  burst of {BURST_REQUESTS:,} bad requests: {dict(sorted(statuses.items()))}; 5xx: {errors}")
                if errors:
                    raise SystemExit("server errors during the burst")
                _check_still_serving(base)
                print("  still serving correctly after the burst")
            finally:
                _stop(server)
    print()
    print(_table(measurements))


if __name__ == "__main__":
    main()
