"""Plumbing of benchmarks/nearest_labelled.py at a tiny size (not speed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from modal_ibal.search._nearest_labelled import nearest_labelled_index

bench = pytest.importorskip("benchmarks.nearest_labelled")


def test_the_baseline_is_the_float64_search():
    rng = np.random.default_rng(0)
    Z_pool = rng.standard_normal((500, 16)).astype(np.float32)
    Z_labelled = rng.standard_normal((70, 16)).astype(np.float32)
    nearest, distance = bench.float64_expansion_search(Z_pool, Z_labelled)
    expected_nearest, expected = nearest_labelled_index(Z_pool, Z_labelled)
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_array_equal(distance, expected)


def test_a_tiny_run_reports_every_row(tmp_path, capsys):
    with threadpool_limits(1):
        bench.main(["--pool", "1500", "--labelled", "120", "--search-pool", "1000",
                    "--new", "10", "--rounds", "2", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["rows_differing_nearest"] == 0 and result["rows_differing_distance"] == 0
    assert result["update_equals_search"] is True
    assert result["cache_searched_rows"] == 1500 and result["cache_updated_rows"] == 1490 + 1480
    assert len(result["updates"]) == 2 and result["entropy"]["cpu"] > 0 < result["ibal"]["cpu"]
    for name in ("modAL entropy_sampling", "full search, before", "full search, after",
                 "LabelledDistanceCache update, B = 10", "(extrapolated)", "IBAL-D with the cache"):
        assert name in text
    assert text.strip().endswith((tmp_path / "report.md").read_text().strip())


@pytest.mark.parametrize(("argv", "message"), [(["--pool", "0"], "--pool must be >= 1"),
                                               (["--rounds", "-1"], "--rounds must be >= 0")])
def test_bad_arguments_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert message in capsys.readouterr().err
