"""Plumbing of the query-speed benchmark at a tiny size: tables, ratios, memory probe (not speed)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from modal_ibal.scoring._representer import READINGS

memory = pytest.importorskip("benchmarks.memory")
queries = pytest.importorskip("benchmarks.queries")
query_speed = pytest.importorskip("benchmarks.query_speed")
report = pytest.importorskip("benchmarks.report")


@pytest.fixture(scope="module")
def tiny_run():
    # one BLAS/OpenMP thread: the plumbing is under test, and threads fighting over two
    # busy cores make small matrix products (the L-BFGS refit) many times slower
    with threadpool_limits(1):
        rows, notes = query_speed.run([300, 600], [20, 40], image_size=200, repeats=2,
                                      budget_s=5.0, memory="inline", epochs=1,
                                      log=lambda text: None)
    return rows, notes


def test_every_available_strategy_is_timed_on_every_case(tiny_run):
    rows, _ = tiny_run
    cases = {(r.pool, r.n_pool, r.n_labelled) for r in rows}
    assert cases == {("vector", 300, 20), ("vector", 300, 40), ("vector", 600, 20),
                     ("vector", 600, 40), ("image", 200, 20), ("image", 200, 40)}
    order = [s.name for s in queries.strategies()]
    expected = {queries.FLOOR, queries.ENTROPY, "ibal_distance_sampling(features)",
                "entropy_distance_sampling(features)", "coreset_sampling(features)",
                "badge_sampling", "ibal_distance_sampling(autoencoder, cached codes)",
                *(f"ibal_sampling({r})" for r in READINGS)}
    for case in cases:
        timed = [r.strategy for r in rows if (r.pool, r.n_pool, r.n_labelled) == case]
        assert timed == sorted(timed, key=order.index)
        assert set(timed) >= expected


def test_timings_are_positive_and_ratios_consistent(tiny_run):
    rows, _ = tiny_run
    for r in rows:
        assert 1 <= len(r.runs) <= 2 and min(r.runs) > 0
        assert r.median_s > 0 and math.isfinite(r.x_entropy) and math.isfinite(r.x_floor)
        if r.strategy == queries.ENTROPY:
            assert r.x_entropy == 1.0
        if r.strategy == queries.FLOOR:
            assert r.x_floor == 1.0 and math.isnan(r.x_floor_scoring)
        if r.scoring_runs:
            assert r.floor_plus_scoring_s > r.scoring_s > 0


@pytest.mark.skipif(not memory.memory_supported(), reason="needs /proc/self/clear_refs")
def test_inline_memory_is_measured_for_every_row(tiny_run):
    rows, _ = tiny_run
    for r in rows:
        assert 0 <= r.peak_extra_bytes <= r.peak_rss_bytes


def test_strategies_blind_to_the_labelled_set_are_timed_once_per_size(tiny_run):
    rows, _ = tiny_run
    floor = {r.n_labelled: r.runs for r in rows
             if r.pool == "vector" and r.n_pool == 300 and r.strategy == queries.FLOOR}
    assert floor[20] is floor[40]  # the same runs, not timed again


def test_markdown_and_csv_hold_every_row(tiny_run, tmp_path):
    rows, notes = tiny_run
    text = report.markdown(rows, command="python -m benchmarks.query_speed --sizes 300,600",
                           info=report.machine(), loads={"start": "0 / 0 / 0"},
                           notes=notes, memory="--memory off")
    for r in rows:
        assert f"| {r.strategy} |" in text
    assert "## vector pool, N = 600, n = 40 labelled" in text
    assert "## image pool, N = 200, n = 20 labelled" in text
    assert "## Growth (vector pool)" in text and "nproc" in text
    path = tmp_path / "query_speed.csv"
    report.write_csv(rows, path)
    with open(path) as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(rows)
    assert {t["strategy"] for t in table} == {r.strategy for r in rows}


@pytest.mark.skipif(not memory.memory_supported(), reason="needs /proc/self/clear_refs")
def test_peak_extra_sees_a_freed_allocation():
    size = 64 * 2**20

    def allocate():
        block = np.ones(size // 8)  # touched: resident
        del block

    extra, peak = memory.peak_extra(allocate)
    assert 0.95 * size <= extra < 16 * size and peak > extra  # RSS counters lag a few pages


@pytest.mark.parametrize("text", ["10,x", "0", ""])
def test_size_lists_are_validated(text):
    with pytest.raises(SystemExit):
        query_speed.parser().parse_args(["--sizes", text])


@pytest.mark.parametrize("name", ["query_speed", "nearest_labelled", "herding_speed", "peers",
                                  "dask_pool", "coverage_speed", "neighbour_search",
                                  "mutation_score"])
def test_every_benchmark_command_line_parses(name, capsys):
    import importlib
    import importlib.util

    if importlib.util.find_spec(f"benchmarks.{name}") is None:
        pytest.skip(f"benchmarks/{name}.py is not in this checkout")
    module = importlib.import_module(f"benchmarks.{name}")
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0 and "usage:" in capsys.readouterr().out


def test_herding_peer_table_names_sizes_that_did_not_finish():
    from benchmarks import herding_speed

    rows = [{"n_pool": 5000, "finished": "yes", "skactiveml MaxHerding s": 4.0,
             "skactiveml MaxHerding peak extra MB": 800.0, "herding_sampling s": 0.5,
             "herding_sampling peak extra MB": 40.0},
            {"n_pool": 40000, "finished": "no: exit 1, MemoryError"}]
    table = herding_speed.peer_table(rows)
    assert "| 5,000 | 4.00 s, 800 MB | 0.50 s, 40 MB | 8.0x |" in table
    assert "| 40,000 | did not finish (exit 1, MemoryError) |" in table


def test_dask_pool_report_gives_the_share_of_in_memory_picks():
    dask_pool = pytest.importorskip("benchmarks.dask_pool")
    args = dask_pool.parser().parse_args(["--n", "1000", "--strategies", "default,herding"])
    args.in_memory_n = args.n
    row = {"seconds": 1.0, "worker_peak_extra": [1, 2], "worker_peak_rss": [3, 4],
           "caller_peak_extra": 5}
    dask_results = {"generate only": {"seconds": 0.1},
                    "default": {**row, "indices": [3, 1, 2, 7]},
                    "herding": {**row, "indices": [3, 1, 2, 7]}}
    memory_results = {"default": {"seconds": 2.0, "peak_extra": 6, "indices": [3, 1, 2, 7]},
                      "herding": {"seconds": 2.0, "peak_extra": 6, "indices": [3, 2, 9, 8]}}
    table = dask_pool.report(args, dask_results, memory_results, ("0", "0")).splitlines()
    assert table[-2].startswith("| default |") and table[-2].endswith("| 1 (same order) |")
    assert table[-1].startswith("| herding |") and table[-1].endswith("| 0.500 |")
