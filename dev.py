#!/usr/bin/env python3
"""Prepare the environment when needed, then run Guildhall or its tests.

    python3 dev.py run [ARGS...]   # the bot (sandbox mode when no token is set)
    python3 dev.py test [ARGS...]  # ruff, then the whole test suite

The environment is a virtualenv in .venv, reinstalled when pyproject.toml changes. Only the
Python standard library is used here, so this works on a machine with nothing but Python 3.11+.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".guildhall-installed"


def ensure_environment() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be started by an older Python
        sys.exit(f"Guildhall needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print("creating the virtual environment in .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing Guildhall and its dependencies ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-e", ".[dev]"], cwd=ROOT, check=True)
    STAMP.write_text(wanted)


def run(args: list[str]) -> int:
    return subprocess.call([str(PYTHON), "bot.py", *args], cwd=ROOT)


def test(args: list[str]) -> int:
    for step in (["-m", "ruff", "check", "."], ["-m", "ruff", "format", "--check", "."]):
        if subprocess.call([str(PYTHON), *step], cwd=ROOT) != 0:
            return 1
    return subprocess.call([str(PYTHON), "-m", "pytest", *args], cwd=ROOT)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "test"):
        print(__doc__.strip())
        return 2
    ensure_environment()
    command, args = sys.argv[1], sys.argv[2:]
    return run(args) if command == "run" else test(args)


if __name__ == "__main__":
    sys.exit(main())
