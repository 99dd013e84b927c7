"""HTTP benchmarks (targets 1 and 2 of ``bench/run``): Guildhall's real app against a bare aiohttp app.

Each :class:`Spec` is one row: wrk drives the route on the Guildhall server, then the same method
and path on a bare server that answers with the bytes Guildhall gave, in interleaved rounds, and
the row passes when Guildhall's median reaches ``target`` times the bare median throughput.
Servers run in their own processes, pinned to one core, and wrk to another, when possible.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import seed
from core.config import RuntimeSettings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"
READY_TIMEOUT = 30.0
SERVER_CPU = "1"
WRK_CPU = "0"


@dataclass(frozen=True)
class Spec:
    """One benchmark row: a request against Guildhall, compared with a bare server's answer to it."""

    name: str
    method: str
    path: str
    target: float  # minimum Guildhall / bare throughput ratio
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _json(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


_G, _U, _BOT = seed.GUILD, seed.user(1), seed.BOT_ID
_PARTY = {"guild_id": str(_G), "user_id": str(seed.user(2))}
READ_TARGET = 0.6
WRITE_TARGET = 0.3
SEED_PROFILES = 10_000

SPECS: list[Spec] = [
    Spec(name="GET /profile/{g}/{u}", method="GET", path=f"/profile/{_G}/{_U}", target=READ_TARGET),
    Spec(
        name="GET /api/guilds/{g}/users/{u}",
        method="GET",
        path=f"/api/guilds/{_G}/users/{_U}",
        target=READ_TARGET,
        content_type="application/json",  # the economy family asks it of every request
    ),
    Spec(name="GET /status", method="GET", path="/status", target=READ_TARGET),
    Spec(
        name="POST /transaction",
        method="POST",
        path="/transaction",
        target=WRITE_TARGET,
        body=_json({"from": "self", "to": _PARTY, "amount": 1, "reason": "bench"}),
        content_type="application/json",
    ),
    Spec(
        name="PATCH /profile/{g}/{u}/add",
        method="PATCH",
        path=f"/profile/{_G}/{seed.user(3)}/add",
        target=WRITE_TARGET,
        body=_json({"experience": 1, "timespent": {"global": 1}}),
        content_type="application/json",
    ),
    Spec(
        name="POST .../stats/message/check",
        method="POST",
        path="/modules/serverstats/stats/message/check",
        target=WRITE_TARGET,
        body=_json({"guild_id": str(_G), "member_is_bot": False, "channel_id": str(seed.CHANNEL), "message_id": "1"}),
        content_type="application/json",
    ),
]


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx_3xx: int = 0
    socket_errors: int = 0

    @property
    def clean(self) -> bool:
        return self.requests > 0 and self.non_2xx_3xx == 0 and self.socket_errors == 0


@dataclass
class Row:
    name: str
    method: str
    path: str
    target: float
    guildhall: WrkResult  # the medians of the runs
    bare: WrkResult
    pair_ratios: list[float]  # Guildhall's req/s over the bare run just before it, round by round

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios: each compares two runs a few seconds apart, so a
        slow spell of this shared machine moves both sides of a ratio rather than one median."""
        return statistics.median(self.pair_ratios) if self.pair_ratios else 0.0

    @property
    def passed(self) -> bool:
        return self.guildhall.clean and self.bare.clean and self.ratio >= self.target


# --- wrk output -----------------------------------------------------------------------------

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_PERCENTILE = re.compile(r"^\s+(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"^\s+(\d+) requests in ", re.MULTILINE)
_NON_2XX = re.compile(r"^\s+Non-2xx or 3xx responses:\s+(\d+)", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkOutputError(ValueError):
    """wrk's output lacks a figure the benchmark needs."""


def parse_wrk(output: str) -> WrkResult:
    """Requests/s, p50/p99 latency (ms) and error counts from ``wrk --latency`` output."""
    rps = _RPS.search(output)
    total = _TOTAL.search(output)
    percentiles = {p: float(value) * _TIME_UNITS_MS[unit] for p, value, unit in _PERCENTILE.findall(output)}
    if rps is None or total is None or "50" not in percentiles or "99" not in percentiles:
        raise WrkOutputError(f"cannot parse wrk output (was --latency given?):\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests_per_second=float(rps.group(1)),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        requests=int(total.group(1)),
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )


# --- processes ------------------------------------------------------------------------------


def pinning_available() -> bool:
    return shutil.which("taskset") is not None and {0, 1} <= os.sched_getaffinity(0)


class Server:
    """A ``bench.serve`` subprocess, started at once; its stdin is held open for as long as it should live."""

    def __init__(self, kind: str, args: list[str], workdir: Path, *, pin: bool) -> None:
        self.kind = kind
        self.log_path = workdir / f"{kind}.stderr"
        prefix = ["taskset", "-c", SERVER_CPU] if pin else []
        command = [*prefix, sys.executable, "-m", "bench.serve", "--kind", kind, *args]
        with self.log_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,  # Ctrl-C reaches the driver only; it stops the servers in order
            )
        self.url = ""

    def wait_ready(self) -> None:
        self.url = f"http://127.0.0.1:{self._ready_port()}"

    def _ready_port(self) -> int:
        assert self.process.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if readable:
                line = self.process.stdout.readline().decode().strip()
                if line.startswith("READY "):
                    return int(line.split()[1])
                if not line and self.process.poll() is not None:
                    break
            elif self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"the {self.kind} server did not start:\n{self.log_path.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the run --------------------------------------------------------------------------------


async def seed_database(path: Path) -> str:
    """Migrate a fresh database, seed one guild's profiles and ledger, and return a new API key's secret."""
    from core.clock import Clock
    from storage import Repositories, Storage

    storage = await Storage.open(path)
    try:
        _, secret = await Repositories(storage).api_keys.create(
            "bench", now=int(Clock().time()), bot_user_id=seed.BOT_ID
        )
    finally:
        await storage.close()
    now = int(time.time())
    seed.seed(path, profiles=SEED_PROFILES, ledger_rows=SEED_PROFILES * 10, events=SEED_PROFILES, now=now)
    return secret


def request_headers(spec: Spec, secret: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {secret}", **spec.headers}
    if spec.content_type:
        headers["Content-Type"] = spec.content_type
    return headers


def fetch(base_url: str, spec: Spec, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """(status, Content-Type, body) of one request, whatever the status."""
    request = urllib.request.Request(base_url + spec.path, data=spec.body or None, method=spec.method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def wrk_script(spec: Spec, headers: dict[str, str], workdir: Path, index: int) -> Path:
    body_path = workdir / f"body-{index}.bin"
    body_path.write_bytes(spec.body)
    lines = [f"wrk.method = {json.dumps(spec.method)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    if spec.body:
        lines.append(f'local f = assert(io.open({json.dumps(str(body_path))}, "rb"))')
        lines += ['wrk.body = f:read("*a")', "f:close()"]
    script = workdir / f"spec-{index}.lua"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return script


def run_wrk(url: str, script: Path, seconds: float, args: argparse.Namespace, *, pin: bool) -> WrkResult:
    prefix = ["taskset", "-c", WRK_CPU] if pin else []
    command = [
        *prefix,
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    # Its own session: Ctrl-C reaches the driver, which kills wrk, rather than wrk printing a partial run.
    done = subprocess.run(command, capture_output=True, text=True, check=False, start_new_session=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def measure(url: str, script: Path, args: argparse.Namespace, *, pin: bool) -> WrkResult:
    run_wrk(url, script, args.warmup, args, pin=pin)
    return run_wrk(url, script, args.duration, args, pin=pin)


def median_result(results: list[WrkResult]) -> WrkResult:
    """The median of interleaved runs (throughput and latencies each), with every run's errors."""
    return WrkResult(
        requests_per_second=statistics.median(r.requests_per_second for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        requests=sum(r.requests for r in results),
        non_2xx_3xx=sum(r.non_2xx_3xx for r in results),
        socket_errors=sum(r.socket_errors for r in results),
    )


def run(args: argparse.Namespace, workdir: Path, servers: list[Server]) -> list[Row]:
    pin = pinning_available() and not args.no_pin
    specs = [s for s in SPECS if not args.only or any(o.lower() in s.name.lower() for o in args.only)]
    if not specs:
        return []
    db = workdir / "guildhall.sqlite3"
    secret = asyncio.run(seed_database(db))

    # Listed before it is ready, so an interrupt during start-up still stops it before the
    # temporary directory goes (a half-started server would recreate its database there).
    guildhall = Server("guildhall", ["--db", str(db), "--loop", args.loop], workdir, pin=pin)
    servers.append(guildhall)
    guildhall.wait_ready()

    # The bare server answers each spec with exactly what Guildhall answered.
    responses, headers_by_spec = [], []
    for spec in specs:
        headers = request_headers(spec, secret)
        status, content_type, body = fetch(guildhall.url, spec, headers)
        responses.append(
            {
                "method": spec.method,
                "path": spec.path,
                "status": status,
                "content_type": content_type,
                "body_b64": base64.b64encode(body).decode(),
            }
        )
        headers_by_spec.append(headers)
    responses_path = workdir / "responses.json"
    responses_path.write_text(json.dumps(responses), encoding="utf-8")
    bare = Server("bare", ["--responses", str(responses_path), "--loop", args.loop], workdir, pin=pin)
    servers.append(bare)
    bare.wait_ready()

    rows = []
    for index, (spec, headers, expected) in enumerate(zip(specs, headers_by_spec, responses, strict=True)):
        got = fetch(bare.url, spec, headers)
        if (got[0], got[1]) != (expected["status"], expected["content_type"]):
            raise RuntimeError(f"{spec.name}: the bare server's answer differs from Guildhall's")
        if not 200 <= int(expected["status"]) < 400:
            raise RuntimeError(f"{spec.name}: Guildhall answers {expected['status']}: {got[2][:200]!r}")
        script = wrk_script(spec, headers, workdir, index)
        bare_runs, guildhall_runs = [], []
        # Interleaved (bare, guildhall, bare, guildhall, ...): noise from other load hits both alike.
        for _ in range(args.rounds):
            print(f"{spec.name}: bare ...", file=sys.stderr, flush=True)
            bare_runs.append(measure(bare.url + spec.path, script, args, pin=pin))
            print(f"{spec.name}: guildhall ...", file=sys.stderr, flush=True)
            guildhall_runs.append(measure(guildhall.url + spec.path, script, args, pin=pin))
        pairs = [
            g.requests_per_second / b.requests_per_second if b.requests_per_second else 0.0
            for g, b in zip(guildhall_runs, bare_runs, strict=True)
        ]
        row = Row(
            spec.name,
            spec.method,
            spec.path,
            spec.target,
            median_result(guildhall_runs),
            median_result(bare_runs),
            pairs,
        )
        rows.append(row)
    return rows


# --- reporting ------------------------------------------------------------------------------


def format_table(rows: list[Row]) -> str:
    header = ("benchmark", "req/s", "bare req/s", "ratio", "p50", "p99", "target", "result")
    lines = [header]
    for row in rows:
        result = "pass" if row.passed else "FAIL"
        if not (row.guildhall.clean and row.bare.clean):
            result += " (errors)"
        lines.append(
            (
                row.name,
                f"{row.guildhall.requests_per_second:,.0f}",
                f"{row.bare.requests_per_second:,.0f}",
                f"{row.ratio:.2f}",
                f"{row.guildhall.p50_ms:.2f}ms",
                f"{row.guildhall.p99_ms:.2f}ms",
                f">= {row.target:.2f}",
                result,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        pairs = enumerate(zip(line, widths, strict=True))
        cells = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in pairs]
        out.append("  ".join(cells))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def environment(args: argparse.Namespace, pin: bool) -> dict[str, Any]:
    import aiohttp

    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit.stdout.strip() or None,
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else None,
        "cpus": os.cpu_count(),
        "pinned": pin,
        "threads": args.threads,
        "connections": args.connections,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
    }


def write_json(rows: list[Row], args: argparse.Namespace) -> Path:
    pin = pinning_available() and not args.no_pin
    data = {
        "environment": environment(args, pin),
        "benchmarks": [
            {
                "name": row.name,
                "method": row.method,
                "path": row.path,
                "target_ratio": row.target,
                "ratio": round(row.ratio, 4),
                "passed": row.passed,
                "guildhall": asdict(row.guildhall),
                "bare": asdict(row.bare),
            }
            for row in rows
        ],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return RESULTS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: smaller data, shorter runs")
    parser.add_argument("--duration", type=float, help="seconds measured per run (default 3, --quick 2)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per run (default 1; whole seconds)")
    parser.add_argument("--rounds", type=int, help="interleaved runs per server and route (default 3, --quick 1)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", action="append", help="run only benchmarks whose name contains this (repeatable)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the server and wrk to CPUs 1 and 0")
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default=RuntimeSettings().event_loop,
        help="the event loop of the HTTP servers, Guildhall's and the bare one alike (default: Guildhall's default)",
    )
    parser.add_argument("--json", action="store_true", help=f"also write {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any benchmark misses its target")
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 2.0 if args.quick else 3.0
    if args.warmup is None:
        args.warmup = 1.0
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    return args


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (bench/run installs it with apt-get)", file=sys.stderr)
        return 2
    # Clean up on `kill` as on Ctrl-C, even when started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    servers: list[Server] = []
    try:
        with tempfile.TemporaryDirectory(prefix="guildhall-bench-") as tmp:
            try:
                rows = run(args, Path(tmp), servers)
            finally:
                for server in reversed(servers):
                    server.stop()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    pin = pinning_available() and not args.no_pin
    placement = f"server on CPU {SERVER_CPU}, wrk on CPU {WRK_CPU}" if pin else "not pinned"
    load = f"wrk -t{args.threads} -c{args.connections}, {args.warmup:g}s warm-up + {args.duration:g}s measured"
    print(f"\n{load} per server, {placement}\n")
    print(format_table(rows))
    if args.json:
        print(f"\nwrote {write_json(rows, args).relative_to(ROOT)}")
    failed = [row.name for row in rows if not row.passed]
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
