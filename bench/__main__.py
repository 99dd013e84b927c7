"""``bench/run [--quick] [--only NAME] [--json] [--strict]``: every benchmark of Guildhall, one table.

Each row is measured against a reference taken in the same run (a bare aiohttp server serving the
same bytes, a raw ``executemany``, the same query on a smaller guild), so the ratio is what counts
on a shared, noisy machine.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import bulk_bench, feature_bench, growth_bench, http_bench, stall_bench, startup_bench
from core.config import RuntimeSettings

RESULTS = http_bench.ROOT / "bench" / "results" / "latest.json"


@dataclass(frozen=True)
class Line:
    target: str
    name: str
    figure: str
    reference: str
    ratio: float
    goal: str
    passed: bool


def http_lines(rows: list[http_bench.Row]) -> list[Line]:
    lines = []
    for row in rows:
        errors = "" if row.guildhall.clean and row.bare.clean else " (errors)"
        lines.append(
            Line(
                "1 reads" if row.target == http_bench.READ_TARGET else "2 writes",
                row.name,
                f"{row.guildhall.requests_per_second:,.0f} req/s (p99 {row.guildhall.p99_ms:.1f} ms){errors}",
                f"bare {row.bare.requests_per_second:,.0f} req/s",
                row.ratio,
                f">= {row.target:.2f}",
                row.passed,
            )
        )
    return lines


def growth_lines(rows: list[growth_bench.GrowthRow], plans: dict[str, list[str]]) -> list[Line]:
    lines = []
    for row in rows:
        small, large = min(row.p99_ms), max(row.p99_ms)
        indexed = growth_bench.uses_indexes(plans.get(row.name, []))
        lines.append(
            Line(
                "3 growth",
                f"{row.name} p99 @{large:,}" + ("" if indexed else " (SCAN)"),
                f"{row.large:.2f} ms",
                f"{row.small:.2f} ms @{small:,}",
                row.ratio,
                f"<= {growth_bench.GROWTH_LIMIT:g}x, < {growth_bench.P99_LIMIT_MS:g} ms",
                row.passed and indexed,
            )
        )
    return lines


def bulk_lines(result: bulk_bench.BulkResult) -> list[Line]:
    reference = f"executemany {result.raw_rows_per_s:,.0f} rows/s"
    goal = f">= {bulk_bench.TARGET:.2f}"
    name = f"PATCH /profile/add x{bulk_bench.ITEMS:,}"
    return [
        Line("4 bulk", f"{name}, every profile answered", f"{result.api_rows_per_s:,.0f} rows/s", reference,
             result.ratio, goal, result.ratio >= bulk_bench.TARGET),
        Line("4 bulk", f"{name}, Prefer: return=minimal (204)", f"{result.minimal_rows_per_s:,.0f} rows/s",
             reference, result.minimal_ratio, goal, result.minimal_ratio >= bulk_bench.TARGET),
    ]  # fmt: skip


def feature_lines(args: object) -> list[Line]:
    lines = []
    if wanted(args, "rank card"):
        card = feature_bench.rank_card(quick=getattr(args, "quick", False))
        lines.append(
            Line(
                "features",
                "rank card PNG render",
                f"{card.figure_ms:.1f} ms",
                f"blank PNG {card.reference_ms:.1f} ms",
                card.ratio,
                f"< {feature_bench.RANK_CARD_LIMIT_MS:g} ms",
                card.figure_ms < feature_bench.RANK_CARD_LIMIT_MS,
            )
        )
    if wanted(args, "7 roles applyRoleChanges"):
        link = feature_bench.role_changes(quick=getattr(args, "quick", False))
        lines.append(
            Line(
                "7 roles",
                f"POST /applyRoleChanges {link['changes']} changes / {link['members']} members",
                f"{link['seconds'] * 1000:,.0f} ms ({link['calls']} calls, {link['rate_limited']} x 429)",
                f"least the limits allow {link['least_seconds'] * 1000:,.0f} ms",
                link["ratio"] if link["ratio"] is not None else float("inf"),
                f"<= {feature_bench.link_bench.RATIO_GOAL:g}x, no 429, < 5 s",
                bool(link["passed"]),
            )
        )
    return lines


def stall_lines(result: stall_bench.StallResult) -> list[Line]:
    rates = f"{result.messages_per_s:,.0f} msg/s + {result.voice_per_s:,.0f} voice/s delivered"
    counted = (
        f"{result.messages_counted:,} of {result.messages_delivered:,} messages counted {result.drain_s:.1f} s after;"
        f" bot {result.bot_cpu:.0%} of a CPU, fakediscord {result.discord_cpu:.0%}"
    )
    errors = f", {result.errors} errors" if result.errors else ""
    return [
        Line(
            "5 stall",
            f"GET /profile p99 @{stall_bench.PROFILE_RATE:,.0f}/s open loop under Discord load",
            f"{result.profile_p99_ms:.1f} ms (p50 {result.profile_p50_ms:.1f}; {rates}{errors})",
            f"no load {result.reference_p99_ms:.1f} ms",
            result.profile_p99_ms / result.reference_p99_ms if result.reference_p99_ms else float("inf"),
            f"< {stall_bench.P99_LIMIT_MS:g} ms",
            result.profile_p99_ms < stall_bench.P99_LIMIT_MS and result.complete,
        ),
        Line(
            "5 stall",
            "event-loop lag p99 (bot's probe, /healthz) under the same load",
            f"{result.lag_p99_ms:.1f} ms (max {result.lag_max_ms:.0f}; {counted})",
            f"no load {result.reference_lag_p99_ms:.1f} ms",
            # uvloop's clock counts whole milliseconds: an idle loop's lag reads 0, so 1 ms is the floor.
            result.lag_p99_ms / max(result.reference_lag_p99_ms, 1.0),
            f"< {stall_bench.LAG_LIMIT_MS:g} ms",
            result.lag_p99_ms < stall_bench.LAG_LIMIT_MS and result.complete,
        ),
    ]


def startup_lines(result: startup_bench.StartupResult) -> list[Line]:
    size, ref = f"@{result.members:,}", f"@{startup_bench.REFERENCE_MEMBERS:,}"
    growth = result.rss_end_mb - result.rss_start_mb
    return [
        Line(
            "6 startup",
            f"sandbox ready {size} members",
            f"{result.ready_s:.1f} s (healthz {result.healthz_s:.1f} s)",
            f"{result.reference_ready_s:.1f} s {ref}",
            result.ready_s / result.reference_ready_s if result.reference_ready_s else float("inf"),
            f"< {startup_bench.READY_LIMIT_S:g} s",
            result.ready_s < startup_bench.READY_LIMIT_S,
        ),
        Line(
            "6 startup",
            f"RSS at ready {size} members",
            f"{result.rss_mb:,.0f} MB",
            f"{result.reference_rss_mb:,.0f} MB {ref}",
            result.rss_mb / result.reference_rss_mb if result.reference_rss_mb else float("inf"),
            f"< {startup_bench.RSS_LIMIT_MB:g} MB",
            result.rss_mb < startup_bench.RSS_LIMIT_MB,
        ),
        Line(
            "6 startup",
            f"RSS slope, 2nd half of {result.load_seconds:g} s mixed load",
            f"{result.slope_mb_per_min:+.1f} MB/min ({growth:+.0f} MB; {result.messages_per_s:,.0f} msg/s,"
            f" {result.voice_per_s:,.0f} voice/s, /profile p99 {result.profile_p99_ms:.1f} ms"
            f"{f', {result.errors} errors' if result.errors else ''})",
            f"{result.rss_start_mb:,.0f} MB at start",
            result.rss_end_mb / result.rss_start_mb if result.rss_start_mb else float("inf"),
            f"< {startup_bench.SLOPE_LIMIT_MB_PER_MIN:g} MB/min",
            result.slope_mb_per_min < startup_bench.SLOPE_LIMIT_MB_PER_MIN and result.errors == 0,
        ),
    ]


def format_table(lines: list[Line]) -> str:
    header = ("target", "benchmark", "figure", "reference", "ratio", "goal", "result")
    cells = [header]
    for line in lines:
        result = "pass" if line.passed else "FAIL"
        cells.append((line.target, line.name, line.figure, line.reference, f"{line.ratio:.2f}", line.goal, result))
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    out = []
    for n, row in enumerate(cells):
        out.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)


def wanted(args: object, name: str) -> bool:
    only = getattr(args, "only", None)
    return not only or any(o.lower() in name.lower() for o in only)


def scratch_folder() -> str | None:
    """``/dev/shm`` when it is a RAM disk with room for the 1M-profile database (~4 GB), else the
    system's temporary folder. The measured reads come from the page cache either way; loading
    the data is what a disk slows, by minutes."""
    shm = Path("/dev/shm")
    try:
        usage = shutil.disk_usage(shm)
    except OSError:
        return None
    return str(shm) if usage.free > 8 * 1024**3 else None


def main(argv: list[str] | None = None) -> int:
    args = http_bench.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, http_bench._raise_interrupt)
    pin = http_bench.pinning_available() and not args.no_pin
    started = time.monotonic()
    lines: list[Line] = []
    plans: dict[str, list[str]] = {}
    servers: list[http_bench.Server] = []
    processes: list[subprocess.Popen[bytes]] = []  # the stall and startup benchmarks' sandboxes and clients
    try:
        with tempfile.TemporaryDirectory(prefix="guildhall-bench-", dir=scratch_folder()) as tmp:
            workdir = Path(tmp)
            try:
                if any(wanted(args, spec.name) for spec in http_bench.SPECS):
                    lines += http_lines(http_bench.run(args, workdir, servers))
                if wanted(args, "bulk PATCH /profile/add"):

                    def start(db: Path) -> http_bench.Server:
                        command = ["--db", str(db), "--loop", args.loop]
                        server = http_bench.Server("guildhall", command, workdir, pin=pin)
                        servers.append(server)
                        server.wait_ready()
                        return server

                    lines += bulk_lines(bulk_bench.run(workdir, quick=args.quick, server_factory=start))
                if wanted(args, "growth"):
                    rows, plans = growth_bench.run(workdir, quick=args.quick)
                    lines += growth_lines(rows, plans)
                lines += feature_lines(args)
                if wanted(args, "stall"):
                    lines += stall_lines(stall_bench.run(workdir, quick=args.quick, pin=pin, processes=processes))
                if wanted(args, "startup"):
                    lines += startup_lines(startup_bench.run(workdir, quick=args.quick, pin=pin, processes=processes))
            finally:
                for process in reversed(processes):
                    stall_bench.stop_process(process)
                for server in reversed(servers):
                    server.stop()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    placement = f"servers on CPU {http_bench.SERVER_CPU}, wrk on CPU {http_bench.WRK_CPU}" if pin else "not pinned"
    print(
        f"\nwrk -t{args.threads} -c{args.connections}, {args.rounds} interleaved round(s) of {args.warmup:g}s warm-up"
        f" + {args.duration:g}s per server (figures: medians; ratios: the median of the rounds' ratios);"
        f" {placement}; HTTP servers on the {args.loop} event loop,"
        f" the bot on {RuntimeSettings().event_loop}; {time.monotonic() - started:.0f}s in all\n"
    )
    print(format_table(lines))
    if plans:
        print("\nquery plans at the largest size:")
        for name, plan in plans.items():
            print(f"  {name}: {' | '.join(plan)}")
    if args.json:
        environment = http_bench.environment(args, pin)
        data = {"environment": environment, "rows": [asdict(line) for line in lines], "plans": plans}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {RESULTS.relative_to(http_bench.ROOT)}")
    return 1 if args.strict and not all(line.passed for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
