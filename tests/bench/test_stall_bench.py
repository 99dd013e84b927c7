from bench.stall_bench import percentile, slope, world_toml


def test_percentile_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 99) == 0.0


def test_slope_least_squares() -> None:
    assert slope([(0.0, 100.0), (1.0, 102.0), (2.0, 104.0)]) == 2.0
    assert slope([(0.0, 5.0), (1.0, 5.0)]) == 0.0
    assert slope([(1.0, 5.0), (1.0, 9.0)]) == 0.0
    assert slope([]) == 0.0


def test_world_toml_generates_members() -> None:
    assert "generate_members = 1234\n" in world_toml(1234)
