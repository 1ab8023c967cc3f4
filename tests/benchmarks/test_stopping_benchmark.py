"""The stopping benchmark's pieces: stop points read off curves, the table, a short real curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("skactiveml")
stopping = pytest.importorskip("benchmarks.stopping")


@pytest.mark.parametrize("values, comparison, threshold, window, expected", [
    ([np.nan, 0.5, 0.995, 0.995, 0.995], ">=", 0.99, 3, 4),  # means off the threshold
    ([np.nan, 0.99, 0.99, 0.98], ">=", 0.99, 2, 2),
    ([np.nan, 0.9, 0.95], ">=", 0.99, 1, None),
    ([0.3, 0.2, 0.1], "<=", 0.2, 1, 1),
    ([np.nan, np.nan], "<=", 0.2, 1, None),
])
def test_a_rule_fires_at_the_first_round_whose_window_mean_passes(values, comparison,
                                                                 threshold, window, expected):
    assert stopping.stop_round(np.array(values), comparison, threshold, window) == expected


def _curve(accuracy, kappa, uncertainty, gain):
    n = len(accuracy)
    frame = pd.DataFrame({"round": range(n), "n_labelled": np.arange(1, n + 1) * 10,
                          "accuracy": accuracy, "balanced_accuracy": accuracy,
                          "kappa": kappa, "balanced_agreement": kappa,
                          "uncertainty": uncertainty, "coverage_gain": gain})
    return frame.assign(coverage_ratio=frame["coverage_gain"] / frame["coverage_gain"][0])


def test_the_table_gives_labels_and_paired_differences_at_the_stop_points():
    curves = {
        0: _curve([0.5, 0.7, 0.8, 0.9], [np.nan, 0.995, 0.995, 0.995], [0.5, 0.3, 0.2, 0.1],
                  [4.0, 3.0, 1.0, 1.0]),
        1: _curve([0.6, 0.7, 0.8, 0.8], [np.nan, 0.9, 0.995, 0.995], [0.5, 0.4, 0.3, 0.3],
                  [4.0, 4.0, 4.0, 4.0]),
    }
    table = stopping.stopping_table(curves)
    end = table.loc["end of curve"]
    assert end["labels"] == 40 and end["accuracy"] == pytest.approx(0.85)
    kappa = table.loc["kappa >= 0.99 (3)"]  # fires at round 3 on seed 0, never on seed 1
    assert kappa["labels"] == 40 and kappa["fired"] == 0.5
    uncertainty = table.loc["uncertainty <= 0.2"]  # round 2 on seed 0 (30 labels); never on 1
    assert uncertainty["labels"] == pytest.approx(35.0) and uncertainty["fired"] == 0.5
    assert uncertainty["d_accuracy"] == pytest.approx(-0.05)
    assert uncertainty["d_accuracy_se"] == pytest.approx(0.05)
    gain = table.loc["coverage gain <= 0.5 x first"]
    assert gain["labels"] == pytest.approx(35.0)


def test_a_short_real_curve_records_every_signal(tmp_path):
    spec = stopping.dataset_spec("synthetic").with_overrides(rounds=2, pool_size=300,
                                                             epochs=5)
    curve = stopping.run_curve(spec, spec.load_data(), seed=0)
    assert list(curve.columns) == list(stopping.COLUMNS)
    assert curve["n_labelled"].tolist() == [10, 20, 30]
    assert np.isnan(curve["kappa"][0]) and curve["kappa"][1:].between(-1, 1).all()
    assert curve["uncertainty"].between(0, 1).all() and (curve["coverage_gain"] > 0).all()
    path = tmp_path / "seed0.csv"
    curve.to_csv(path, index=False)
    assert stopping.read_curve(path, 2) is not None
    assert stopping.read_curve(path, 3) is None  # not a whole curve of that protocol
