"""Target 6 of ``bench/run``: start-up time and memory of the sandbox with a 100,000-member guild.

``bot.py sandbox`` runs as its own process with one guild of ``generate_members`` members (20,000
with ``--quick``). Ready time runs from process start until ``/healthz`` answers 200 *and* the
sandbox printed its banner (the bot is ready: every member chunk received); RSS is read from
``/proc/PID/status`` at that moment. Then a mixed load (``GET /profile/{g}/{u}`` open loop, and
messages and voice updates through fakediscord's control API, at modest rates) runs for 120 s
(70 s quick) while RSS is sampled every second. The row reports the least-squares slope over the
second half of the load and the growth over all of it. The first half is warm-up: every message
comes from a member not seen before, and the process's bounded caches fill to their stated sizes
(fakediscord's 5,000 messages per channel in ~25 s and its ~8 MB resume buffer in ~35 s, the
8,192-entry ``vp_id`` memo in ~41 s, discord.py's 1,000-message cache in ~5 s); what still grows
after them is unbounded. The reference is the same sandbox with a 1,000-member guild, started
first in the same run.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench import stall_bench

MEMBERS = 100_000
QUICK_MEMBERS = 20_000
REFERENCE_MEMBERS = 1_000
READY_LIMIT_S = 8.0
RSS_LIMIT_MB = 400.0
SLOPE_LIMIT_MB_PER_MIN = 5.0
PROFILE_RATE = 200.0
MESSAGE_RATE = 200.0
VOICE_RATE = 50.0
LOAD_SECONDS = 120.0  # half warm-up (bounded caches fill), half measured
QUICK_LOAD_SECONDS = 70.0


@dataclass
class StartupResult:
    members: int
    ready_s: float
    healthz_s: float
    rss_mb: float
    reference_ready_s: float
    reference_rss_mb: float
    load_seconds: float
    rss_start_mb: float
    rss_end_mb: float
    slope_mb_per_min: float
    messages_per_s: float
    voice_per_s: float
    profile_p99_ms: float
    errors: int


def run(workdir: Path, *, quick: bool, pin: bool, processes: list[subprocess.Popen[bytes]]) -> StartupResult:
    members = QUICK_MEMBERS if quick else MEMBERS
    load_seconds = QUICK_LOAD_SECONDS if quick else LOAD_SECONDS

    reference = stall_bench.SandboxProcess(workdir / "startup", REFERENCE_MEMBERS, pin=pin, name="reference")
    processes.append(reference.process)
    reference.wait_ready()
    reference_rss = reference.rss_mb()
    reference.stop()

    sandbox = stall_bench.SandboxProcess(workdir / "startup", members, pin=pin, name="large")
    processes.append(sandbox.process)
    sandbox.wait_ready()
    ready_rss = sandbox.rss_mb()
    stall_bench.wait_for_profile(sandbox)  # the probed member posts once and the bot counts it

    load = stall_bench.client(
        "load", stall_bench.load_args(sandbox, load_seconds, MESSAGE_RATE, VOICE_RATE, members), pin=pin
    )
    processes.append(load)
    probe = stall_bench.client("probe", stall_bench.probe_args(sandbox, load_seconds, PROFILE_RATE), pin=pin)
    processes.append(probe)
    started = time.monotonic()
    samples: list[tuple[float, float]] = []
    while time.monotonic() - started < load_seconds:
        samples.append(((time.monotonic() - started) / 60, sandbox.rss_mb()))
        time.sleep(1.0)
    samples.append(((time.monotonic() - started) / 60, sandbox.rss_mb()))
    achieved = stall_bench.result_of(load, 60)
    probed = stall_bench.result_of(probe, 60)["profile"]
    sandbox.stop()
    assert isinstance(probed, dict)
    return StartupResult(
        members=members,
        ready_s=sandbox.ready_seconds,
        healthz_s=sandbox.healthz_seconds,
        rss_mb=ready_rss,
        reference_ready_s=reference.ready_seconds,
        reference_rss_mb=reference_rss,
        load_seconds=load_seconds,
        rss_start_mb=samples[0][1],
        rss_end_mb=samples[-1][1],
        slope_mb_per_min=stall_bench.slope(samples[len(samples) // 2 :]),  # after warm-up
        messages_per_s=float(achieved["messages_per_s"]),  # type: ignore[arg-type]
        voice_per_s=float(achieved["voice_per_s"]),  # type: ignore[arg-type]
        profile_p99_ms=float(probed["p99_ms"]),
        errors=int(achieved["errors"]) + int(probed["errors"]),  # type: ignore[call-overload]
    )
