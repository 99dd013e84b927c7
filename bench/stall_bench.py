"""Target 5 of ``bench/run``: the bot's Discord traffic does not stall the API.

The sandbox (fakediscord + the bot + the API) runs as its own process, ``bot.py sandbox``. A load
process drives fakediscord's control API with messages (up to 2,000/s) and voice-state updates (up
to 500/s) from several concurrent tasks; control calls return once the bot handled their events,
so the rate actually achieved is reported. A probe process sends ``GET /profile/{g}/{u}`` open loop
at a fixed 1,000 requests/s (requests are scheduled by time and latency runs from the scheduled
send time, so a stalled server cannot hide queued requests), and ``GET /status`` at 200/s. The
event loop inside the bot process cannot be reached from outside, so the p99 of ``/status`` (a
route that does no I/O) stands in for event-loop lag. The reference is the same ``/profile`` probe
with no Discord load, in the same run.

``python -m bench.stall_bench probe|load ...`` are the two client processes (used by the driver).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = "1"
CLIENT_CPU = "0"
READY_TIMEOUT = 60.0

GUILD = 1179000000000001000
TEXT_CHANNEL = 1179000000000003001
VOICE_CHANNELS = (1179000000000003021, 1179000000000003022)
MEMBER = 1179000000000000101  # alice, in the default world: the profile the probe reads

PROFILE_RATE = 1000.0
STATUS_RATE = 200.0
MESSAGE_RATE = 2000.0
VOICE_RATE = 500.0
P99_LIMIT_MS = 20.0
LAG_LIMIT_MS = 20.0


# --- pure helpers ---------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of ``values``; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points; 0.0 when x does not vary."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var


def world_toml(members: int) -> str:
    """The default sandbox world with ``members`` generated members in its guild."""
    text = (ROOT / "fakediscord" / "default_world.toml").read_text(encoding="utf-8")
    marker = "premium_subscription_count = 2\n"
    assert marker in text, "default_world.toml changed: update bench.stall_bench.world_toml"
    return text.replace(marker, f"{marker}generate_members = {members}\n", 1)


def generated_member(n: int) -> int:
    from fakediscord.world import GENERATED_ID_BASE

    return GENERATED_ID_BASE + (GUILD % 1000) * 1_000_000 + n


# --- the sandbox process --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinning_available() -> bool:
    import shutil

    return shutil.which("taskset") is not None and {0, 1} <= os.sched_getaffinity(0)


class SandboxProcess:
    """``bot.py sandbox`` in its own process (and session), started at once."""

    def __init__(self, workdir: Path, members: int, *, pin: bool, name: str = "sandbox") -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        world = workdir / f"{name}.world.toml"
        world.write_text(world_toml(members), encoding="utf-8")
        self.api_port, self.discord_port = free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.control_url = f"http://127.0.0.1:{self.discord_port}"
        self.log_path = workdir / f"{name}.stderr"
        self.key = ""
        self.healthz_seconds = 0.0
        self.ready_seconds = 0.0
        prefix = ["taskset", "-c", SERVER_CPU] if pin else []
        command = [
            *prefix,
            str(Path(sys.executable)),
            "bot.py",
            "--db",
            str(workdir / f"{name}.sqlite3"),
            "sandbox",
            "--world",
            str(world),
            "--api-port",
            str(self.api_port),
            "--discord-port",
            str(self.discord_port),
        ]
        self.started = time.monotonic()
        with self.log_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True
            )

    def wait_ready(self) -> None:
        """Until ``/healthz`` answers 200 and the sandbox printed its banner (members chunked, bot ready)."""
        assert self.process.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.process.stdout
        threading.Thread(target=lambda: [lines.put(b.decode(errors="replace")) for b in stdout], daemon=True).start()
        deadline = self.started + READY_TIMEOUT
        banner = False
        while time.monotonic() < deadline:
            if not self.healthz_seconds and self._healthy():
                self.healthz_seconds = time.monotonic() - self.started
            with contextlib.suppress(queue.Empty):
                line = lines.get(timeout=0.02)
                if "API key:" in line:
                    self.key = line.split("API key:", 1)[1].strip()
                if line.startswith("Press Ctrl+C"):
                    banner = True
                    self.ready_seconds = time.monotonic() - self.started
            if banner and self.healthz_seconds:
                return
            if self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"the sandbox did not start:\n{self.log_path.read_text(errors='replace')[-4000:]}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.api_url + "/healthz", timeout=1) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def client(mode: str, args: list[str], *, pin: bool) -> subprocess.Popen[bytes]:
    """A probe or load process, in its own session (Ctrl-C reaches the driver, which stops it)."""
    prefix = ["taskset", "-c", CLIENT_CPU] if pin else []
    command = [*prefix, sys.executable, "-m", "bench.stall_bench", mode, *args]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, start_new_session=True)


def result_of(process: subprocess.Popen[bytes], timeout: float) -> dict[str, object]:
    out, _ = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"bench client failed ({process.returncode})")
    return json.loads(out.decode().strip().splitlines()[-1])


def probe_args(sandbox: SandboxProcess, seconds: float, rate: float = PROFILE_RATE) -> list[str]:
    path = f"/profile/{GUILD}/{MEMBER}"
    return [
        sandbox.api_url,
        sandbox.key,
        path,
        f"--rate={rate}",
        f"--status-rate={STATUS_RATE}",
        f"--seconds={seconds}",
    ]


def load_args(sandbox: SandboxProcess, seconds: float, messages: float, voice: float, users: int) -> list[str]:
    return [
        sandbox.control_url,
        f"--seconds={seconds}",
        f"--messages={messages}",
        f"--voice={voice}",
        f"--users={users}",
    ]


def send_seed_message(sandbox: SandboxProcess) -> None:
    """One message from the probed member, so its profile exists."""
    body = json.dumps(
        {"guild_id": str(GUILD), "channel_id": str(TEXT_CHANNEL), "user_id": str(MEMBER), "content": "hello"}
    ).encode()
    request = urllib.request.Request(
        sandbox.control_url + "/_control/message",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


# --- the run --------------------------------------------------------------------------------


@dataclass
class StallResult:
    reference_p99_ms: float
    profile_p99_ms: float
    profile_p50_ms: float
    lag_p99_ms: float
    profile_rate: float
    messages_per_s: float
    voice_per_s: float
    errors: int

    @property
    def passed(self) -> bool:
        return self.profile_p99_ms < P99_LIMIT_MS and self.lag_p99_ms < LAG_LIMIT_MS and self.errors == 0


def run(workdir: Path, *, quick: bool, pin: bool, processes: list[subprocess.Popen[bytes]]) -> StallResult:
    reference_seconds, loaded_seconds = (8.0, 12.0) if quick else (20.0, 40.0)
    sandbox = SandboxProcess(workdir / "stall", 1000, pin=pin)
    processes.append(sandbox.process)
    sandbox.wait_ready()
    send_seed_message(sandbox)
    reference = result_of(client("probe", probe_args(sandbox, reference_seconds), pin=pin), reference_seconds + 30)
    load = client("load", load_args(sandbox, loaded_seconds + 2, MESSAGE_RATE, VOICE_RATE, 1000), pin=pin)
    processes.append(load)
    time.sleep(1.0)
    probe = client("probe", probe_args(sandbox, loaded_seconds), pin=pin)
    processes.append(probe)
    loaded = result_of(probe, loaded_seconds + 30)
    achieved = result_of(load, loaded_seconds + 30)
    sandbox.stop()
    ref_profile, profile, status = reference["profile"], loaded["profile"], loaded["status"]
    assert isinstance(ref_profile, dict) and isinstance(profile, dict) and isinstance(status, dict)
    return StallResult(
        reference_p99_ms=ref_profile["p99_ms"],
        profile_p99_ms=profile["p99_ms"],
        profile_p50_ms=profile["p50_ms"],
        lag_p99_ms=status["p99_ms"],
        profile_rate=profile["rate"],
        messages_per_s=float(achieved["messages_per_s"]),  # type: ignore[arg-type]
        voice_per_s=float(achieved["voice_per_s"]),  # type: ignore[arg-type]
        errors=int(profile["errors"]) + int(status["errors"]) + int(achieved["errors"]),  # type: ignore[call-overload]
    )


# --- client processes -----------------------------------------------------------------------


async def open_loop(
    session: object, url: str, headers: dict[str, str], rate: float, seconds: float
) -> dict[str, float]:
    """GET ``url`` at ``rate``/s by the clock for ``seconds``; latency from each scheduled send time."""
    import aiohttp

    assert isinstance(session, aiohttp.ClientSession)
    latencies: list[float] = []
    errors = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one(scheduled: float) -> None:
        nonlocal errors
        try:
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
        except (TimeoutError, aiohttp.ClientError):
            errors += 1
        latencies.append((loop.time() - scheduled) * 1000)

    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    total = int(rate * seconds)
    n = 0
    while n < total:
        now = loop.time()
        while n < total and start + n / rate <= now:
            task = asyncio.create_task(one(start + n / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        if n < total:
            await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    return {
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=0.0),
        "count": len(latencies),
        "errors": errors + total - len(latencies),
        "rate": len(latencies) / seconds,
    }


async def probe_main(args: argparse.Namespace) -> dict[str, object]:
    import aiohttp

    headers = {"Authorization": f"Bearer {args.key}"}
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=20)) as session:
        profile, status = await asyncio.gather(
            open_loop(session, args.url + args.path, headers, args.rate, args.seconds),
            open_loop(session, args.url + "/status", {}, args.status_rate, args.seconds),
        )
    return {"profile": profile, "status": status}


async def load_main(args: argparse.Namespace) -> dict[str, object]:
    """Messages and voice updates through the control API, each kind capped at its rate, from several tasks."""
    import aiohttp

    counts = {"message": 0, "voice": 0, "errors": 0}
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = start + args.seconds
    slots = {"message": 0, "voice": 0}
    rates = {"message": args.messages, "voice": args.voice}

    async def worker(kind: str, session: aiohttp.ClientSession, index: int) -> None:
        while True:
            slot = slots[kind]
            slots[kind] += 1
            due = start + slot / rates[kind]
            if due >= end or loop.time() >= end:
                return
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            user = generated_member(slot % args.users)
            if kind == "message":
                path = "/_control/message"
                body = {"guild_id": str(GUILD), "channel_id": str(TEXT_CHANNEL), "user_id": str(user)}
                body["content"] = f"bench message {slot}"
            else:
                path = "/_control/voice"
                channel = (None, *VOICE_CHANNELS)[(slot // args.users) % 3]
                body = {"guild_id": str(GUILD), "user_id": str(user), "channel_id": str(channel) if channel else None}
            try:
                async with session.post(args.url + path, json=body) as response:
                    await response.read()
                    counts[kind if response.status == 200 else "errors"] += 1
            except (TimeoutError, aiohttp.ClientError):
                counts["errors"] += 1

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=20)) as session:
        workers = [worker("message", session, i) for i in range(args.message_tasks) if args.messages > 0]
        workers += [worker("voice", session, i) for i in range(args.voice_tasks) if args.voice > 0]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*workers), args.seconds + 10)
    elapsed = loop.time() - start
    return {
        "messages_per_s": counts["message"] / elapsed,
        "voice_per_s": counts["voice"] / elapsed,
        "errors": counts["errors"],
    }


def client_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stall_bench")
    modes = parser.add_subparsers(dest="mode", required=True)
    probe = modes.add_parser("probe")
    probe.add_argument("url")
    probe.add_argument("key")
    probe.add_argument("path")
    probe.add_argument("--rate", type=float, default=PROFILE_RATE)
    probe.add_argument("--status-rate", type=float, default=STATUS_RATE)
    probe.add_argument("--seconds", type=float, default=10.0)
    load = modes.add_parser("load")
    load.add_argument("url")
    load.add_argument("--seconds", type=float, default=10.0)
    load.add_argument("--messages", type=float, default=MESSAGE_RATE)
    load.add_argument("--voice", type=float, default=VOICE_RATE)
    load.add_argument("--users", type=int, default=1000)
    load.add_argument("--message-tasks", type=int, default=32)
    load.add_argument("--voice-tasks", type=int, default=8)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))  # nothing to clean up: no traceback
    with contextlib.suppress(KeyboardInterrupt):
        result = asyncio.run(probe_main(args) if args.mode == "probe" else load_main(args))
        print(json.dumps(result), flush=True)
        return 0
    return 130


if __name__ == "__main__":
    sys.exit(client_main(sys.argv[1:]))
