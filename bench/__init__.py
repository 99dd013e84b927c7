"""Benchmarks: timing targets live here, not in the test suite. Run with ``bench/run``."""
