"""``bench/http_bench.py``'s wrk-output parser, on output captured from real wrk 4.1 runs (no load here)."""

from __future__ import annotations

import pytest

from bench.http_bench import WrkOutputError, parse_wrk

GUILDHALL_INDEX = """\
Running 1s test @ http://127.0.0.1:18560/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.74ms    0.92ms  11.93ms   77.31%
    Req/Sec     4.77k   312.56     5.48k    80.00%
  Latency Distribution
     50%    6.74ms
     75%    7.09ms
     90%    7.62ms
     99%   10.31ms
  4737 requests in 1.00s, 8.86MB read
Requests/sec:   4733.63
Transfer/sec:      8.85MB
"""

NOT_FOUND = """\
Running 1s test @ http://127.0.0.1:18560/nope
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.83ms    5.11ms  46.10ms   93.61%
    Req/Sec     3.85k   637.15     4.64k    60.00%
  Latency Distribution
     50%    7.34ms
     75%    9.45ms
     90%   10.81ms
     99%   37.24ms
  3832 requests in 1.00s, 643.66KB read
  Non-2xx or 3xx responses: 3832
Requests/sec:   3828.76
Transfer/sec:    643.11KB
"""

SERVER_KILLED = """\
Running 3s test @ http://127.0.0.1:18561/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.41ms   10.40ms 100.87ms   97.09%
    Req/Sec     9.91k     4.11k   12.93k    84.62%
  Latency Distribution
     50%    2.51ms
     75%    2.57ms
     90%    4.05ms
     99%   70.60ms
  12831 requests in 3.01s, 1.70MB read
  Socket errors: connect 0, read 32, write 85892, timeout 0
Requests/sec:   4260.03
Transfer/sec:    578.27KB
"""


def test_figures_of_a_clean_run() -> None:
    result = parse_wrk(GUILDHALL_INDEX)

    assert result.requests_per_second == 4733.63
    assert result.p50_ms == pytest.approx(6.74)
    assert result.p99_ms == pytest.approx(10.31)
    assert result.requests == 4737
    assert result.clean


def test_non_2xx_answers_make_a_run_unclean() -> None:
    result = parse_wrk(NOT_FOUND)

    assert result.non_2xx_3xx == 3832
    assert result.requests_per_second == 3828.76
    assert not result.clean


def test_socket_errors_are_summed_and_make_a_run_unclean() -> None:
    result = parse_wrk(SERVER_KILLED)

    assert result.socket_errors == 32 + 85892
    assert result.p99_ms == pytest.approx(70.60)
    assert not result.clean


def test_output_without_latency_distribution_is_refused() -> None:
    without_latency = "\n".join(line for line in GUILDHALL_INDEX.splitlines() if "%" not in line or "Stdev" in line)

    with pytest.raises(WrkOutputError):
        parse_wrk(without_latency)
