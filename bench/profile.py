"""Profile one HTTP row of ``bench/run`` under its own load: ``python -m bench.profile "POST /transaction"``.

Seeds the row's database as ``bench/run`` does, starts Guildhall's benchmark server with
pyinstrument sampling its event-loop thread (``bench.serve --profile``), drives the row's request
with ``wrk`` (one thread, 32 connections; server and wrk pinned to CPUs 1 and 0 when they can be)
and writes the profile to ``bench/results/profile-<row>.txt`` (``--html`` for pyinstrument's page).
The sampler costs the server throughput of its own, so the requests/s printed are not the row's
figure: the profile says where the time goes, ``bench/run`` how much there is.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from pathlib import Path

from bench.http_bench import (
    ROOT,
    SPECS,
    Server,
    Spec,
    fetch,
    pinning_available,
    request_headers,
    run_wrk,
    seed_database,
    wrk_script,
)

RESULTS = ROOT / "bench" / "results"


def spec_named(name: str) -> Spec:
    """The one row whose name contains ``name`` (case-insensitive)."""
    found = [spec for spec in SPECS if name.lower() in spec.name.lower()]
    if len(found) != 1:
        names = ", ".join(spec.name for spec in (found or SPECS))
        raise SystemExit(f"bench.profile: {name!r} names {len(found)} rows; pick one of: {names}")
    return found[0]


def profile_path(spec: Spec, *, html: bool) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", f"{spec.method} {spec.path}".lower()).strip("-")[:60]
    return RESULTS / f"profile-{slug}.{'html' if html else 'txt'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("row", help='a row of bench/run, or part of its name ("transaction", "GET /status")')
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of load (default 10)")
    parser.add_argument("--html", action="store_true", help="write pyinstrument's HTML page instead of text")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    args.threads = 1
    spec = spec_named(args.row)
    out = profile_path(spec, html=args.html)
    out.parent.mkdir(parents=True, exist_ok=True)
    pin = pinning_available()
    with tempfile.TemporaryDirectory(prefix="guildhall-profile-") as folder:
        workdir = Path(folder)
        db = workdir / "bench.sqlite3"
        secret = asyncio.run(seed_database(db))
        headers = request_headers(spec, secret)
        server = Server("guildhall", ["--db", str(db), "--profile", str(out)], workdir, pin=pin)
        try:
            server.wait_ready()
            status, _, body = fetch(server.url, spec, headers)
            if status >= 300:
                raise SystemExit(f"bench.profile: {spec.name} answered {status}: {body[:200]!r}")
            result = run_wrk(server.url + spec.path, wrk_script(spec, headers, workdir, 0), args.seconds, args, pin=pin)
        finally:
            server.stop()  # the server writes the profile as it stops
    print(f"{spec.name}: {result.requests_per_second:,.0f} req/s under the sampler; profile: {out}")
    if not args.html:
        print("\n".join(out.read_text(encoding="utf-8").splitlines()[:60]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
