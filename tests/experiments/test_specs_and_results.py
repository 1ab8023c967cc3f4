"""The experiment runner, specs, registry, AULC tables, figures and the Fig. 4 analysis, at a tiny size."""

from __future__ import annotations

import inspect
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY
from matplotlib.image import imread
from scipy.stats import spearmanr
from sklearn.metrics import balanced_accuracy_score

from modal_ibal import ibal_sampling, random_sampling
from modal_ibal.experiments import _figures as figures
from modal_ibal.experiments._catalogue import EXPERIMENTS, get_experiment
from modal_ibal.experiments._datasets import make_synthetic
from modal_ibal.experiments._fig4 import ibal_vs_uncertainty, rank_correlations, write_correlations
from modal_ibal.experiments._files import COLUMNS, SCORE_METRICS, run_file
from modal_ibal.experiments._results import (
    aulc_table,
    learning_curves,
    paired_differences,
    summary_markdown,
    write_summary,
)
from modal_ibal.experiments._runner import (
    RunFailedError,
    run_experiment,
    score_predictions,
)
from modal_ibal.experiments._seeds import INITIAL, MODEL, QUERY, SPLIT, derive_seed
from modal_ibal.experiments._specs import ALL_STRATEGIES, Dataset
from modal_ibal.metrics import aulc
from modal_ibal.strategies import _registry as registry

TINY_STRATEGIES = {"random": random_sampling, "ibal": ibal_sampling}


def _run(out, strategies=None, seeds=2, **kwargs):
    return run_experiment(TINY, TINY_STRATEGIES if strategies is None else strategies, seeds, out,
                          progress=False, **kwargs)


# ------------------------------------------------------------------ seeds, registry


def test_derive_seed_is_reproducible_and_separates_streams():
    assert derive_seed(3, QUERY, 2) == derive_seed(3, QUERY, 2)
    values = {derive_seed(seed, stream, *keys) for seed in (0, 1)
              for stream, keys in ((SPLIT, ()), (INITIAL, ()), (MODEL, ()), (QUERY, (1,)),
                                   (QUERY, (2,)))}
    assert len(values) == 10
    assert all(0 <= value < 2**32 for value in values)


def test_every_registered_strategy_resolves_to_a_callable():
    for name in registry.strategy_names():
        strategy = registry.get_strategy(name).resolve()
        assert callable(strategy), name
    assert set(ALL_STRATEGIES) <= set(registry.strategy_names())
    ibal_pseudo = registry.get_strategy("ibal-pseudo").resolve()
    assert ibal_pseudo.func is ibal_sampling and ibal_pseudo.keywords == {"reading": "pseudo"}


def test_registry_uses_the_fast_path_uncertainty_baselines():
    from modal_ibal.strategies import _uncertainty as uncertainty

    assert registry.get_strategy("entropy").resolve() is uncertainty.entropy_sampling
    assert registry.get_strategy("margin").resolve() is uncertainty.margin_sampling


@pytest.mark.parametrize("names, expected", [
    ("random, ibal-d,random", ("random", "ibal-d")),
    (["entropy", "margin"], ("entropy", "margin")),
])
def test_parse_strategies(names, expected):
    assert registry.parse_strategies(names) == expected


@pytest.mark.parametrize("names, message", [
    ("random,nope", r"strategy name must be one of .*Got 'nope' instead"),
    (" , ", r"must name at least one strategy"),
])
def test_parse_strategies_rejects(names, message):
    with pytest.raises(ValueError, match=message):
        registry.parse_strategies(names)


def test_every_registered_strategy_declares_the_contract_keywords():
    # the runner passes random_state to every strategy: the contract, not a signature probe
    for entry in registry.STRATEGIES.values():
        parameters = inspect.signature(entry.function).parameters
        for keyword in ("random_state", "X_labelled", "y_labelled"):
            assert parameters[keyword].kind is inspect.Parameter.KEYWORD_ONLY, entry.name


# ------------------------------------------------------------------ specs


def test_builtin_experiments_have_the_papers_budgets():
    synthetic = get_experiment("synthetic")
    np.testing.assert_array_equal(synthetic.budgets, np.arange(10, 101, 10))
    assert get_experiment("cifar100").budgets[-1] == 250
    assert get_experiment("fashion-mnist").budgets[-1] <= 250
    assert set(EXPERIMENTS) == {"synthetic", "digits", "fashion-mnist", "cifar100"}
    for spec in EXPERIMENTS.values():
        registry.parse_strategies(spec.strategies)
    with pytest.raises(ValueError, match="experiment name must be one of"):
        get_experiment("mnist")


def test_split_is_seeded_disjoint_and_stratified():
    data = TINY.load_data()
    first, again, other = TINY.split(data, 0), TINY.split(data, 0), TINY.split(data, 1)
    np.testing.assert_array_equal(first.initial, again.initial)
    np.testing.assert_array_equal(first.X_test, again.X_test)
    assert not np.array_equal(first.X_test, other.X_test)
    assert len(first.y_test) == 30 and len(first.y_pool) == 70 and len(first.initial) == 6
    pool_rows = {row.tobytes() for row in first.X_pool}
    assert not any(row.tobytes() in pool_rows for row in first.X_test)
    np.testing.assert_array_equal(np.bincount(first.y_test), [18, 9, 3])  # 60:30:10


def test_split_takes_the_official_test_set_and_subsets():
    X, y = make_synthetic((40, 40, 20), random_state=1)
    data = Dataset(X[:70], y[:70], X[70:], y[70:])
    spec = TINY.with_overrides(test_size=10, pool_size=50)
    split = spec.split(data, 0)
    assert len(split.y_test) == 10 and len(split.y_pool) == 50
    test_rows = {row.tobytes() for row in X[70:]}
    assert all(row.tobytes() in test_rows for row in split.X_test)


def test_split_refuses_a_pool_smaller_than_the_budget():
    with pytest.raises(ValueError, match=r"buys up to 206 labels .* pool holds 70 points"):
        TINY.with_overrides(rounds=50).split(TINY.load_data(), 0)


@pytest.mark.parametrize("overrides, message", [
    ({"rounds": -1}, r"'rounds' parameter must be an int >= 0. Got -1"),
    ({"batch": 0}, r"'batch' parameter must be an int >= 1. Got 0"),
    ({"epochs": 2.5}, r"'epochs' parameter must be an int >= 1. Got 2.5"),
    ({"test_size": 1.5}, r"'test_size' parameter must be an int >= 1 or a float in \(0, 1\)"),
])
def test_with_overrides_validates(overrides, message):
    with pytest.raises(ValueError, match=message):
        TINY.with_overrides(**overrides)


def test_build_model_is_seeded_per_experiment_seed():
    data = TINY.split(TINY.load_data(), 0)
    X, y = data.X_pool[:20], data.y_pool[:20]
    a, b, c = (TINY.build_model(seed).fit(X, y) for seed in (0, 0, 1))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


# ------------------------------------------------------------------ AULC and tables


def test_aulc_matches_a_hand_computed_trapezoid():
    # (20 - 10) * (0.5 + 0.7) / 2 + (40 - 20) * (0.7 + 0.6) / 2 = 6 + 13 = 19, over 30 labels
    assert aulc([10, 20, 40], [0.5, 0.7, 0.6]) == pytest.approx(19 / 30)
    assert aulc([40, 10, 20], [0.6, 0.5, 0.7]) == pytest.approx(19 / 30)
    assert aulc([10], [0.42]) == 0.42
    assert aulc([10, 20], [0.8, 0.8]) == pytest.approx(0.8)


@pytest.mark.parametrize("x, y, message", [
    ([], [], "non-empty and of equal length"),
    ([1, 2], [0.5], "non-empty and of equal length"),
    ([1, 1], [0.5, 0.6], "must not repeat a budget"),
])
def test_aulc_rejects(x, y, message):
    with pytest.raises(ValueError, match=message):
        aulc(x, y)


def _table(values):
    """Rows for strategies a, b over seeds 0, 1 at budgets 10, 20 (accuracy)."""
    rows = [("e", name, seed, r, 10 * (r + 1), "accuracy", value)
            for (name, seed), curve in values.items() for r, value in enumerate(curve)]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def test_aulc_table_curves_and_summary():
    results = _table({("a", 0): [0.5, 0.7], ("a", 1): [0.5, 0.9],
                      ("random", 0): [0.5, 0.6], ("random", 1): [0.5, 0.6]})
    runs = aulc_table(results).set_index(["strategy", "seed"])["aulc"]
    assert runs[("a", 0)] == pytest.approx(0.6) and runs[("a", 1)] == pytest.approx(0.7)
    curves = learning_curves(results, "accuracy").set_index(["strategy", "n_labelled"])
    assert curves.loc[("a", 20), "mean"] == pytest.approx(0.8)
    assert curves.loc[("a", 20), "std"] == pytest.approx(np.std([0.7, 0.9], ddof=1))
    text = summary_markdown(results, title="T", command="modal-ibal run e")
    table = text[text.index("| strategy"):].splitlines()
    assert table[0] == "| strategy | AULC | ΔAULC vs random (± s.e.) | 10 labels | 20 labels |"
    # paired differences 0.05 and 0.15: mean 0.100, std 0.071, standard error 0.071 / sqrt(2)
    assert table[2].startswith("| a | 0.650 ± 0.071 | 0.100 ± 0.050 |")
    assert table[3].startswith("| random | 0.550 ± 0.000 | 0.000 ± 0.000 |")
    assert "modal-ibal run e" in text
    with pytest.raises(ValueError, match="'metric' parameter must be one of"):
        learning_curves(results, "f1")


# ------------------------------------------------------------------ runner


def test_score_predictions_matches_sklearn():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 0, 1, 3, 2])
    scores = score_predictions(y_true, y_pred)
    with pytest.warns(UserWarning):
        expected = balanced_accuracy_score(y_true, y_pred)
    assert scores["balanced_accuracy"] == pytest.approx(expected)
    assert scores["accuracy"] == pytest.approx(4 / 6)


def test_run_writes_every_round_and_metric(tmp_path):
    result = _run(tmp_path)
    results = pd.read_csv(tmp_path / "results.csv")
    assert list(results.columns) == list(COLUMNS)
    assert len(results) == 2 * 2 * (TINY.n_rounds + 1) * len(SCORE_METRICS)
    assert set(results["n_labelled"]) == {6, 10, 14}
    assert results["value"].between(0, 1).all()
    timings = pd.read_csv(tmp_path / "timings.csv")
    assert set(timings["metric"]) == {"fit_seconds", "query_seconds"}
    assert (timings[timings["metric"] == "query_seconds"]["round"] > 0).all()
    for name in TINY_STRATEGIES:
        for seed in (0, 1):
            assert run_file(tmp_path, name, seed).is_file()
    pd.testing.assert_frame_equal(result.results, results)
    # paired comparison: every strategy starts from the same model and labels at a seed
    start = results[results["round"] == 0].pivot_table(index=["seed", "metric"],
                                                       columns="strategy", values="value")
    np.testing.assert_array_equal(start["random"], start["ibal"])


def test_classes_found_counts_the_classes_holding_a_label(tmp_path):
    _run(tmp_path)
    results = pd.read_csv(tmp_path / "results.csv")
    found = results[results["metric"] == "classes_found"].sort_values(
        ["strategy", "seed", "round"])
    data = TINY.load_data()
    for (_, seed), run in found.groupby(["strategy", "seed"]):
        split = TINY.split(data, seed)
        initial = np.unique(split.y_pool[split.initial]).size
        assert run["value"].iloc[0] * TINY.n_classes == pytest.approx(initial)
        counts = run["value"].to_numpy() * TINY.n_classes
        np.testing.assert_allclose(counts, np.rint(counts), atol=1e-9)  # whole classes
        assert (np.diff(counts) >= 0).all()  # labels are never taken back
        assert counts[-1] <= TINY.n_classes


def test_same_seed_gives_the_same_csv(tmp_path):
    _run(tmp_path / "a")
    _run(tmp_path / "b")
    assert (tmp_path / "a" / "results.csv").read_bytes() == \
        (tmp_path / "b" / "results.csv").read_bytes()


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    full, partial = tmp_path / "full", tmp_path / "partial"
    _run(full)
    first = _run(partial, seeds=[0])  # 2 of the 4 runs
    assert first.n_resumed == 0
    kept = {path: path.stat().st_mtime_ns for path in (partial / "runs").iterdir()}
    resumed = _run(partial, resume=True)
    assert resumed.n_resumed == 2
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items())
    assert (partial / "results.csv").read_bytes() == (full / "results.csv").read_bytes()


def test_resume_with_other_settings_is_refused(tmp_path):
    _run(tmp_path, seeds=1)
    other = TINY.with_overrides(epochs=6)
    with pytest.raises(ValueError, match=r"were made with .*'epochs': 5.*refusing to resume"):
        run_experiment(other, TINY_STRATEGIES, 1, tmp_path, resume=True, progress=False)


def _broken_strategy(classifier, X_pool, n_instances=1, **kwargs):
    raise ValueError("the strategy broke")


def test_a_failing_strategy_fails_loudly_and_keeps_finished_runs(tmp_path):
    strategies = {"random": random_sampling, "broken": _broken_strategy}
    with pytest.raises(RunFailedError, match=r"Strategy 'broken' failed at seed 0, round 1 "
                       r"\(query\): ValueError: the strategy broke") as caught:
        _run(tmp_path, strategies)
    assert isinstance(caught.value.__cause__, ValueError)
    assert caught.value.strategy == "broken" and caught.value.round == 1
    assert run_file(tmp_path, "random", 0).is_file()
    assert not run_file(tmp_path, "broken", 0).exists()
    assert not (tmp_path / "results.csv").exists()
    assert not [name for name in os.listdir(tmp_path / "runs") if name.endswith(".tmp")]


def test_invalid_query_indices_fail_the_run(tmp_path):
    def repeats(classifier, X_pool, n_instances=1, **kwargs):
        return np.zeros(n_instances, dtype=int), np.zeros(n_instances)

    with pytest.raises(RunFailedError, match=r"Strategy 'repeats' .*4 distinct integer"):
        _run(tmp_path, {"repeats": repeats}, seeds=1)


def test_stochastic_strategies_get_a_seed_per_round(tmp_path):
    seen = []

    def recording(classifier, X_pool, n_instances=1, *, random_state=None):
        seen.append(random_state)
        return random_sampling(classifier, X_pool, n_instances, random_state=random_state)

    _run(tmp_path, {"recording": recording}, seeds=[3])
    assert seen == [derive_seed(3, QUERY, 1), derive_seed(3, QUERY, 2)]


def test_runner_restores_torch_threads(tmp_path):
    before = torch.get_num_threads()
    run_experiment(TINY.with_overrides(rounds=0), {"random": random_sampling}, 1, tmp_path,
                   progress=False)
    assert torch.get_num_threads() == before


def test_registered_names_run(tmp_path):
    result = run_experiment(TINY.with_overrides(rounds=1), ["random", "ibal-d", "entropy"], 1,
                            tmp_path, progress=False)
    assert sorted(result.results["strategy"].unique()) == ["entropy", "ibal-d", "random"]


# ------------------------------------------------------------------ figures and Fig. 4


def test_plot_functions_return_their_axes():
    X, y = make_synthetic((20, 10, 5))
    figure, axes = plt.subplots(1, 3)
    try:
        assert figures.plot_dataset(X, y, axes[0]) is axes[0]
        curves = learning_curves(_table({("a", 0): [0.5, 0.7], ("a", 1): [0.6, 0.8]}), "accuracy")
        assert figures.plot_learning_curves(curves, axes[1]) is axes[1]
        assert len(axes[1].lines) == 1
        ax = figures.plot_ibal_vs_uncertainty(np.linspace(-1, 0, 5), np.linspace(0, 1, 5),
                                              axes[2], rho=-1.0)
        assert ax is axes[2] and "ρ = -1.00" in ax.get_title()
        plt.sca(axes[0])
        assert figures.plot_dataset(X, y) is axes[0]
    finally:
        plt.close(figure)
    with pytest.raises(ValueError, match="must have shape \\(n_samples, 2\\)"):
        figures.plot_dataset(np.zeros((3, 3)), np.zeros(3))


def test_write_figures_for_points_and_images(tmp_path):
    results = _table({("a", 0): [0.5, 0.7], ("a", 1): [0.6, 0.8]})
    X, y = make_synthetic((20, 10, 5))
    paths = figures.write_figures(tmp_path / "points", results, X, y, title="t")
    assert [path.name for path in paths] == ["dataset.png", "curves_accuracy.png"]
    images = np.random.default_rng(0).random((12, 1, 8, 8)).astype(np.float32)
    paths = figures.write_figures(tmp_path / "images", results, images, np.arange(12) % 3)
    for path in paths:
        height, width = imread(path).shape[:2]
        assert height > 200 and width > 200


def test_paper_strategies_get_their_own_panel_and_differences_a_figure(tmp_path):
    results = _table({(name, seed): [0.5, 0.6 + 0.05 * k + 0.01 * seed]
                      for k, name in enumerate(["random", "ibal-d", "entropy", "typiclust"])
                      for seed in (0, 1)})
    paths = figures.write_figures(tmp_path, results)
    assert [path.name for path in paths] == ["curves_accuracy.png", "differences_accuracy.png"]
    assert imread(paths[0]).shape[1] > 1.7 * imread(paths[1]).shape[1]  # two panels side by side
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots()
    try:
        differences = paired_differences(aulc_table(results), "random")
        assert figures.plot_paired_differences(differences, ax, reference="random") is ax
        labels = [tick.get_text() for tick in ax.get_yticklabels()]
        assert labels == ["ibal-d", "entropy", "typiclust"]  # by mean difference, random left out
    finally:
        plt.close(figure)


def test_fig4_scores_and_correlations(tmp_path):
    scores = ibal_vs_uncertainty(TINY, 0)
    assert list(scores.columns) == ["ibal", "entropy", "confidence", "label"]
    assert len(scores) == 70
    assert np.abs(scores["ibal"]).max() == pytest.approx(1.0)
    assert scores["entropy"].between(0, 1).all()
    assert scores["confidence"].between(1 / 3 - 1e-9, 1).all()
    correlations = rank_correlations(scores)
    expected = spearmanr(scores["ibal"], scores["confidence"]).statistic
    assert correlations.loc["confidence", "spearman_rho"] == pytest.approx(expected)
    paths = write_correlations(tmp_path, correlations, title="tiny")
    paths += figures.write_fig4_figures(tmp_path, scores, correlations)
    assert sorted(path.name for path in paths) == [
        "fig4.md", "fig4_confidence.png", "fig4_correlations.csv", "fig4_entropy.png"]
    assert "| entropy |" in (tmp_path / "fig4.md").read_text()


def test_write_summary_names_every_strategy(tmp_path):
    result = _run(tmp_path, seeds=1)
    text = write_summary(tmp_path, result.results, result.timings).read_text()
    for name in TINY_STRATEGIES:
        assert f"| {name} |" in text
    assert "## Time per round" in text


def test_paired_differences_against_a_hand_computation():
    runs = pd.DataFrame({
        "experiment": "x", "metric": "accuracy",
        "strategy": ["a", "a", "a", "ref", "ref", "ref"],
        "seed": [0, 1, 2, 0, 1, 2],
        "aulc": [0.5, 0.7, 0.9, 0.4, 0.4, 0.6],
    })
    table = paired_differences(runs, "ref")
    differences = np.array([0.1, 0.3, 0.3])
    assert table.loc["a", "mean"] == pytest.approx(differences.mean())
    assert table.loc["a", "std"] == pytest.approx(differences.std(ddof=1))
    assert table.loc["a", "sem"] == pytest.approx(differences.std(ddof=1) / np.sqrt(3))
    assert table.loc["a", "n_seeds"] == 3
    assert table.loc["ref", "mean"] == 0
    with pytest.raises(ValueError, match="must name a strategy in the results"):
        paired_differences(runs, "typiclust")


def test_run_and_fig4_reuse_an_already_loaded_data_set(tmp_path, monkeypatch):
    from modal_ibal.experiments._catalogue import get_experiment
    from modal_ibal.experiments._fig4 import ibal_vs_uncertainty
    from modal_ibal.experiments._runner import run_experiment

    spec = get_experiment("synthetic").with_overrides(rounds=1, epochs=2, pool_size=200,
                                                      test_size=100)
    data = spec.load_data()
    monkeypatch.setattr(type(spec), "load_data", lambda self: pytest.fail("loaded again"))
    result = run_experiment(spec, ["random"], 1, tmp_path, progress=False, data=data)
    assert set(result.results["strategy"]) == {"random"}
    assert len(ibal_vs_uncertainty(spec, 0, data=data)) > 0
