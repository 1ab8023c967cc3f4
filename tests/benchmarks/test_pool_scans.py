"""One query of the default strategy checks its pool once, and is timed on the pool it claims."""

from __future__ import annotations

from benchmarks import pool_scans


def test_a_default_query_scans_its_pool_once():
    lines = pool_scans.count_scans(3_000, 8)
    assert sum(lines.values()) == 1, lines
    [line] = lines
    assert line.startswith("validation.py")  # the door's check of the pool


def test_the_timed_pool_has_the_asked_shape_and_gives_a_batch():
    X_labelled, y_labelled, X_pool = pool_scans.clustered_pool(500, 6)
    assert X_pool.shape == (500, 6) and X_labelled.shape == (pool_scans.N_LABELLED, 6)
    assert set(y_labelled) == {0, 1, 2, 3}
    seconds, picks = pool_scans.time_query(500, 6, repeats=1)
    assert seconds > 0 and len(set(picks.tolist())) == pool_scans.N_INSTANCES
