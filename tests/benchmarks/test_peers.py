"""The peer benchmark's plumbing: the scikit-activeml adapter, the table, one tiny run."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import TINY, TinyCNN, make_net
from modAL.models import ActiveLearner

pytest.importorskip("skactiveml")
peers = pytest.importorskip("benchmarks.peers")

from skactiveml.pool import MaxHerding, ProbCover, TypiClust  # noqa: E402
from skactiveml.utils import MISSING_LABEL  # noqa: E402


@pytest.mark.parametrize("query_class, options", [(MaxHerding, {}), (TypiClust, {}),
                                                  (ProbCover, {"n_classes": 10})])
def test_adapter_matches_scikit_activeml_on_the_stacked_data(query_class, options, split,
                                                             fitted_net):
    X_labelled, y_labelled, X_pool = split
    X_pool = X_pool[:80]
    strategy = peers.skactiveml_strategy(query_class, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        picks, scores = strategy(fitted_net, X_pool, 5, random_state=3, X_labelled=X_labelled,
                                 y_labelled=y_labelled)
        X = np.concatenate([X_labelled, X_pool]).astype(np.float64)
        y = np.concatenate([y_labelled.astype(np.float64), np.full(len(X_pool), MISSING_LABEL)])
        expected = query_class(random_state=3, **options).query(X, y, batch_size=5)
    assert picks.shape == scores.shape == (5,)
    np.testing.assert_array_equal(picks, np.asarray(expected) - len(X_labelled))
    assert len(np.unique(picks)) == 5 and picks.min() >= 0 and picks.max() < len(X_pool)


def test_adapter_flattens_images_and_reads_the_learner(split):
    X_labelled, y_labelled, X_pool = split
    images_labelled = X_labelled.reshape(-1, 1, 8, 8)
    images_pool = X_pool[:50].reshape(-1, 1, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        learner = ActiveLearner(make_net(TinyCNN, max_epochs=2), X_training=images_labelled,
                                y_training=y_labelled)
    strategy = peers.skactiveml_strategy(MaxHerding)
    on_images, _ = strategy(learner, images_pool, 4, random_state=1)
    on_vectors, _ = strategy(learner.estimator, X_pool[:50], 4, random_state=1,
                             X_labelled=X_labelled, y_labelled=y_labelled)
    np.testing.assert_array_equal(on_images, on_vectors)


def test_adapter_refuses_a_bound_random_state():
    with pytest.raises(ValueError, match="'random_state' option of skactiveml_strategy is set "
                                         "per query"):
        peers.skactiveml_strategy(MaxHerding, random_state=0)


def _rows(strategy, seed, accuracies, query_seconds):
    scores = [("e", strategy, seed, k, 10 * (k + 1), metric, a - shift)
              for metric, shift in (("accuracy", 0.0), ("balanced_accuracy", 0.1 * seed))
              for k, a in enumerate(accuracies)]
    timings = [("e", strategy, seed, k + 1, 10 * (k + 2), "query_seconds", t)
               for k, t in enumerate(query_seconds)]
    return scores, timings


def test_peer_table_against_hand_computed_values():
    columns = ["experiment", "strategy", "seed", "round", "n_labelled", "metric", "value"]
    curves = {  # strategy -> seed -> accuracies after rounds 0, 1, 2
        "random": {0: [0.5, 0.6, 0.7], 1: [0.4, 0.6, 0.6]},
        peers.PEER_REFERENCE: {0: [0.5, 0.7, 0.7], 1: [0.4, 0.5, 0.8]},
        "mine": {0: [0.5, 0.8, 0.9], 1: [0.4, 0.7, 0.8]},
    }
    times = {"random": [1.0, 3.0], peers.PEER_REFERENCE: [2.0, 4.0], "mine": [6.0, 8.0]}
    score_rows, timing_rows = [], []
    for strategy, by_seed in curves.items():
        for seed, accuracies in by_seed.items():
            scores, timings = _rows(strategy, seed, accuracies, times[strategy])
            score_rows += scores
            timing_rows += timings
    table = peers.peer_table(pd.DataFrame(score_rows, columns=columns),
                             pd.DataFrame(timing_rows, columns=columns))

    def area(a):  # trapezoid over labels 10, 20, 30, divided by 20
        return (a[0] + 2 * a[1] + a[2]) / 4

    aulc = {s: np.array([area(by_seed[k]) for k in (0, 1)]) for s, by_seed in curves.items()}
    mine = table.loc["mine"]
    assert list(table.index) == sorted(aulc, key=lambda s: -aulc[s].mean())
    assert mine.aulc_mean == pytest.approx(aulc["mine"].mean())
    assert mine.aulc_std == pytest.approx(aulc["mine"].std(ddof=1))
    difference = aulc["mine"] - aulc["random"]
    assert mine.vs_random_mean == pytest.approx(difference.mean())
    assert mine.vs_random_sem == pytest.approx(difference.std(ddof=1) / np.sqrt(2))
    assert mine.vs_peer_mean == pytest.approx((aulc["mine"] - aulc[peers.PEER_REFERENCE]).mean())
    balanced = {s: values - np.array([0.0, 0.1]) for s, values in aulc.items()}
    assert mine.balanced_aulc_mean == pytest.approx(balanced["mine"].mean())
    assert mine.balanced_vs_random_mean == pytest.approx(difference.mean())  # same shift
    assert mine.balanced_vs_peer_sem == pytest.approx(
        (aulc["mine"] - aulc[peers.PEER_REFERENCE]).std(ddof=1) / np.sqrt(2))
    assert mine.query_median == pytest.approx(7.0)
    assert mine.query_ratio == pytest.approx(7.0 / 3.0)
    assert mine.n_seeds == 2


def test_one_tiny_run_writes_every_strategy_and_resumes(tmp_path):
    out = tmp_path / "tiny"
    results, timings, gamma = peers.run_peers(TINY, [0], out, progress=False)
    names = {*peers.PROJECT_STRATEGIES, peers.PAPER_IBAL_D, *peers.SKACTIVEML_STRATEGIES,
             *peers.RECIPE_STRATEGIES}
    assert set(results["strategy"]) == names == set(timings["strategy"])
    assert gamma in peers.GAMMAS
    assert (out / "gamma.json").is_file() and (out / "summary.md").is_file()
    first = (out / "results.csv").read_bytes()
    again, _, _ = peers.run_peers(TINY, [0], out, report_only=True, progress=False)
    assert (out / "results.csv").read_bytes() == first
    pd.testing.assert_frame_equal(again, results)


def test_report_only_with_nothing_finished_says_so(tmp_path):
    with pytest.raises(RuntimeError, match="No seed of 'tiny' finished every strategy"):
        peers.run_peers(TINY, [0], tmp_path / "empty", report_only=True, progress=False)


def test_command_line_parses_and_refuses_unknown_names(capsys):
    with pytest.raises(SystemExit) as exit_info:
        peers.main(["--help"])
    assert exit_info.value.code == 0 and "--stop-at" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"--datasets must name some of synthetic.*Got 'mnist'"):
        peers.main(["--datasets", "mnist"])
    with pytest.raises(SystemExit):
        peers.main(["--stop-at", "late"])
    assert "--stop-at must be a UTC time HH:MM. Got 'late' instead." in capsys.readouterr().err


def test_shuttle_is_read_from_an_rda_file_and_subsampled_keeping_the_rare_classes(tmp_path):
    rdata = pytest.importorskip("rdata")
    from benchmarks.shuttle import SHUTTLE_CLASSES, load_shuttle, shuttle_subsample

    rng = np.random.default_rng(0)
    codes = np.repeat(np.arange(7), [600, 5, 8, 300, 120, 2, 3])
    frame = pd.DataFrame({f"V{i}": rng.integers(-50, 50, len(codes)).astype(float)
                          for i in range(1, 10)})
    frame["Class"] = pd.Categorical.from_codes(codes, categories=list(SHUTTLE_CLASSES))
    path = tmp_path / "Shuttle.rda"
    rdata.write_rda(path, {"Shuttle": frame})
    X, y = load_shuttle(path)
    assert X.dtype == np.float32 and X.shape == (len(codes), 9)
    np.testing.assert_array_equal(y, codes)
    np.testing.assert_array_equal(X, frame[[f"V{i}" for i in range(1, 10)]].to_numpy())
    keep = shuttle_subsample(y, 200, rare_below=100)
    assert len(keep) == 200 and len(np.unique(keep)) == 200
    counts = np.bincount(y[keep], minlength=7)
    np.testing.assert_array_equal(counts[[1, 2, 5, 6]], [5, 8, 2, 3])  # every rare row kept
    assert counts[0] > counts[3] > counts[4]  # the common ones in proportion
    with pytest.raises(FileNotFoundError, match="r-cran-mlbench"):
        load_shuttle(tmp_path / "missing.rda")
    with pytest.raises(ValueError, match="must exceed the 18 rows"):
        shuttle_subsample(y, 10, rare_below=100)
