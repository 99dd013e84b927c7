"""Target 5 of ``bench/run``: the bot's Discord traffic does not stall the API.

fakediscord runs as its own process (``python -m fakediscord``) on CPU 0, as Discord runs on
other machines; the bot and its API (``bot.py run``, pointed at it through ``[discord] api_base``
and ``gateway_url``, on its real clock) on CPU 1. fakediscord generates the Discord load itself
(``POST /_control/load``: 2,000 messages/s and 500 voice-state updates/s from the guild's 1,000
generated members) and reports what it delivered; its gateway websocket pushes back when the bot
reads slower, so delivered is what the bot took in. A probe process on CPU 0 sends
``GET /profile/{g}/{u}`` open loop at a fixed 1,000 requests/s (requests are scheduled by time and
latency runs from the scheduled send time, so a stalled server cannot hide queued requests). Event-
loop lag comes from the bot's own probe (``/healthz`` ``loop_lag_ms`` over the loaded seconds). The
reference is the same probe with no Discord load, in the same run. After the load the bot is
stopped (SIGTERM) and the messages it counted are read from its database: every delivered message
must be there.

``python -m bench.stall_bench probe|load ...`` are the client processes (``load`` drives the
control API from many tasks; the start-up benchmark uses it against a whole sandbox).
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
import sqlite3
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


def probe_args(
    sandbox: SandboxProcess | SplitSandbox, seconds: float, rate: float = PROFILE_RATE, status_rate: float = STATUS_RATE
) -> list[str]:
    path = f"/profile/{GUILD}/{MEMBER}"
    return [
        sandbox.api_url,
        sandbox.key,
        path,
        f"--rate={rate}",
        f"--status-rate={status_rate}",
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


# --- the run ---------------------------------------------------------------------------------

BOT_TOKEN = "bench-token"


class SplitSandbox:
    """fakediscord and the bot as two processes: the fake on the client CPU, the bot on the server CPU."""

    def __init__(self, workdir: Path, members: int, *, pin: bool) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        world = workdir / "split.world.toml"
        world.write_text(world_toml(members), encoding="utf-8")
        self.db = workdir / "split.sqlite3"
        self.api_port, self.discord_port = free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.control_url = f"http://127.0.0.1:{self.discord_port}"
        config = workdir / "split.toml"
        config.write_text(
            f'[discord]\ntoken = "{BOT_TOKEN}"\napi_base = "{self.control_url}/api/v10"\n'
            f'gateway_url = "ws://127.0.0.1:{self.discord_port}/gateway"\n[api]\nport = {self.api_port}\n',
            encoding="utf-8",
        )
        self.log_path = workdir / "split.bot.stderr"
        python = str(Path(sys.executable))
        bot = [python, "bot.py", "--config", str(config), "--db", str(self.db)]
        created = subprocess.run([*bot, "apikey", "create", "bench"], cwd=ROOT, capture_output=True, check=True)
        self.key = created.stdout.decode().strip().splitlines()[-1]
        server = ["taskset", "-c", SERVER_CPU] if pin else []
        client_cpu = ["taskset", "-c", CLIENT_CPU] if pin else []
        fake = [python, "-m", "fakediscord", "--world", str(world), "--port", str(self.discord_port)]
        # Discord runs elsewhere; here it shares the client CPU with the probe, below it in priority,
        # so the probe's timings are the bot's, not the load generator's turn on that CPU.
        self.fake = subprocess.Popen(
            [*client_cpu, "nice", "-n", "10", *fake, "--token", BOT_TOKEN],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.started = time.monotonic()
        with self.log_path.open("wb") as stderr:
            self.bot = subprocess.Popen(
                [*server, *bot, "run"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
            )

    def wait_ready(self) -> None:
        """Until the bot logged that it is ready (every member chunk in) and ``/healthz`` answers 200."""
        deadline = self.started + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.bot.poll() is not None or self.fake.poll() is not None:
                break
            if "ready as" in self.log_path.read_text(errors="replace") and get_json(self.api_url + "/healthz"):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the bot did not start:\n{self.log_path.read_text(errors='replace')[-4000:]}")

    def lag(self, seconds: float) -> dict[str, float]:
        health = get_json(f"{self.api_url}/healthz?window={min(60.0, seconds):g}")
        assert health is not None, "/healthz did not answer"
        return health["loop_lag_ms"]

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU time the bot and fakediscord used so far."""
        return cpu_seconds(self.bot.pid), cpu_seconds(self.fake.pid)

    def drain(self, expected: int, timeout: float = 15.0) -> float:
        """Seconds until the bot counted ``expected`` messages (it reads what Discord delivered)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout and self.counted_messages() < expected:
            time.sleep(0.05)
        return time.monotonic() - started

    def counted_messages(self) -> int:
        """Messages the bot counted in the guild, read from its database."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as conn:
            return conn.execute(
                "SELECT COALESCE(SUM(message_count), 0) FROM members WHERE guild_id = ?", (GUILD,)
            ).fetchone()[0]

    def stop(self) -> None:
        stop_process(self.bot)
        stop_process(self.fake)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process (ours: its children are visible in ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get_json(url: str, body: dict[str, object] | None = None, timeout: float = 5.0) -> dict[str, object] | None:
    """GET (or POST ``body``) and decode; None when the server does not answer 200."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read()) if response.status == 200 else None
    except (OSError, urllib.error.URLError, ValueError):
        return None


def wait_for_profile(setup: SplitSandbox | SandboxProcess, timeout: float = 15.0) -> None:
    """The probed member posts once (through the control API) and the bot counts it."""
    posted = get_json(
        setup.control_url + "/_control/message",
        {"guild_id": str(GUILD), "channel_id": str(TEXT_CHANNEL), "user_id": str(MEMBER), "content": "hello"},
    )
    assert posted is not None, "fakediscord refused the seed message"
    request = urllib.request.Request(f"{setup.api_url}/profile/{GUILD}/{MEMBER}", headers={"Authorization": setup.key})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, urllib.error.URLError), urllib.request.urlopen(request, timeout=5):
            return
        time.sleep(0.1)
    raise RuntimeError("the probed member's profile never appeared")


@dataclass
class StallResult:
    reference_p99_ms: float
    reference_lag_p99_ms: float
    profile_p99_ms: float
    profile_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    profile_rate: float
    messages_per_s: float
    voice_per_s: float
    messages_delivered: int
    messages_counted: int
    errors: int
    bot_cpu: float  # share of one CPU over the loaded probe
    discord_cpu: float
    drain_s: float  # after the load: until the bot counted every delivered message

    @property
    def passed(self) -> bool:
        return self.profile_p99_ms < P99_LIMIT_MS and self.lag_p99_ms < LAG_LIMIT_MS and self.complete

    @property
    def complete(self) -> bool:
        """No request failed, the load reached its rates, and every delivered message was counted."""
        rates = self.messages_per_s >= 0.95 * MESSAGE_RATE and self.voice_per_s >= 0.95 * VOICE_RATE
        return self.errors == 0 and rates and self.messages_counted == self.messages_delivered


def run(workdir: Path, *, quick: bool, pin: bool, processes: list[subprocess.Popen[bytes]]) -> StallResult:
    reference_seconds, loaded_seconds = (8.0, 12.0) if quick else (20.0, 40.0)
    setup = SplitSandbox(workdir / "stall", 1000, pin=pin)
    processes += [setup.fake, setup.bot]
    setup.wait_ready()
    wait_for_profile(setup)
    reference = result_of(client("probe", probe_args(setup, reference_seconds, status_rate=0), pin=pin), 60)
    reference_lag = setup.lag(reference_seconds)
    stream: dict[str, object] = {}
    load = {
        "guild_id": str(GUILD),
        "channel_id": str(TEXT_CHANNEL),
        "messages_per_s": MESSAGE_RATE,
        "voice_per_s": VOICE_RATE,
        "seconds": loaded_seconds + 2,
    }
    timeout = loaded_seconds + 60
    streamer = threading.Thread(
        target=lambda: stream.update(get_json(setup.control_url + "/_control/load", load, timeout) or {}), daemon=True
    )
    streamer.start()
    time.sleep(1.0)
    probe = client("probe", probe_args(setup, loaded_seconds, status_rate=0), pin=pin)
    cpu_before, probe_started = setup.cpu_seconds(), time.monotonic()
    loaded = result_of(probe, timeout)
    elapsed = time.monotonic() - probe_started
    bot_cpu, fake_cpu = ((a - b) / elapsed for a, b in zip(setup.cpu_seconds(), cpu_before, strict=True))
    lag = setup.lag(loaded_seconds)
    streamer.join(timeout)
    drained = setup.drain(int(stream.get("messages", 0)) + 1)  # type: ignore[call-overload]
    stop_process(setup.bot)  # SIGTERM: the bot flushes what it gathered, then stops
    counted = setup.counted_messages() - 1  # the seed message
    setup.stop()
    ref_profile, profile = reference["profile"], loaded["profile"]
    assert isinstance(ref_profile, dict) and isinstance(profile, dict)
    return StallResult(
        reference_p99_ms=ref_profile["p99_ms"],
        reference_lag_p99_ms=reference_lag["p99"],
        profile_p99_ms=profile["p99_ms"],
        profile_p50_ms=profile["p50_ms"],
        lag_p99_ms=lag["p99"],
        lag_max_ms=lag["max"],
        profile_rate=profile["rate"],
        messages_per_s=float(stream.get("messages_per_s", 0.0)),  # type: ignore[arg-type]
        voice_per_s=float(stream.get("voice_per_s", 0.0)),  # type: ignore[arg-type]
        messages_delivered=int(stream.get("messages", 0)),  # type: ignore[call-overload]
        messages_counted=counted,
        errors=int(profile["errors"]) + (0 if stream else 1),
        bot_cpu=bot_cpu,
        discord_cpu=fake_cpu,
        drain_s=drained,
    )


# --- client processes -----------------------------------------------------------------------


class _Exchange(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: one request at a time, each response read by its length.

    The probe shares its CPU with the load generator; a client costing a few microseconds a request
    keeps what it measures the server's time, not its own.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.answer: asyncio.Future[int] | None = None
        self.open = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0 or self.answer is None or self.answer.done():
            return
        status_line, *fields = bytes(self.buffer[:head_end]).decode("latin-1").split("\r\n")
        lengths = [value for name, _, value in (f.partition(":") for f in fields) if name.lower() == "content-length"]
        if not lengths:
            self.answer.set_exception(ConnectionError("a response without Content-Length"))
            return
        end = head_end + 4 + int(lengths[0])
        if len(self.buffer) < end:
            return
        del self.buffer[:end]
        self.answer.set_result(int(status_line.split()[1]))

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError("the server closed the connection"))

    async def exchange(self, request: bytes) -> int:
        assert self.transport is not None
        if self.transport.is_closing():
            raise ConnectionError("the connection is closed")
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.answer


async def open_loop(url: str, headers: dict[str, str], rate: float, seconds: float) -> dict[str, float]:
    """GET ``url`` at ``rate``/s by the clock for ``seconds``; latency from each scheduled send time."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    lines = [f"GET {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    idle: list[_Exchange] = []
    latencies: list[float] = []
    errors = 0
    tasks: set[asyncio.Task[None]] = set()

    async def send() -> int:
        while idle:  # an idle connection the server closed (its keep-alive timeout) is retried fresh
            connection = idle.pop()
            if connection.open:
                with contextlib.suppress(ConnectionError):
                    return await finish(connection)
        _, connection = await loop.create_connection(_Exchange, parts.hostname, parts.port)
        return await finish(connection)

    async def finish(connection: _Exchange) -> int:
        status = await connection.exchange(request)
        if connection.open:
            idle.append(connection)
        return status

    async def one(scheduled: float) -> None:
        nonlocal errors
        try:
            if await asyncio.wait_for(send(), 20) != 200:
                errors += 1
        except (OSError, TimeoutError):
            errors += 1
        latencies.append((loop.time() - scheduled) * 1000)

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
    for connection in idle:
        if connection.transport is not None:
            connection.transport.close()
    return {
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=0.0),
        "count": len(latencies),
        "errors": errors + total - len(latencies),
        "rate": len(latencies) / seconds,
    }


async def probe_main(args: argparse.Namespace) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {args.key}"}
    profile, status = await asyncio.gather(
        open_loop(args.url + args.path, headers, args.rate, args.seconds),
        open_loop(args.url + "/status", {}, args.status_rate, args.seconds),
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
