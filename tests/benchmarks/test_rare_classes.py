"""The rare-class benchmark's pieces: long-tailed profiles, the study's strategies, its table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

pytest.importorskip("skactiveml")
long_tail = pytest.importorskip("benchmarks.long_tail")
rare = pytest.importorskip("benchmarks.rare_classes")

from modal_ibal.coverage._concave import cluster_random_state, coverage_clusters  # noqa: E402
from modal_ibal.coverage._kernel import kernel_codes  # noqa: E402


def test_class_sizes_follow_the_exponential_profile():
    sizes = long_tail.class_sizes(10, 120, 50.0)
    assert sizes[0] == 120 and sizes[-1] == 2  # 120 / 50 = 2.4
    assert (np.diff(sizes) <= 0).all()
    np.testing.assert_allclose(sizes, np.maximum(1, np.rint(120 * 50.0 ** (-np.arange(10) / 9))))
    assert long_tail.class_sizes(10, 120, 100.0)[-1] == 1
    with pytest.raises(ValueError, match="rho >= 1"):
        long_tail.class_sizes(10, 120, 0.5)


def test_long_tailed_indices_keep_the_profile_in_a_fixed_shuffled_order():
    y = np.repeat(np.arange(5), 40)
    kept = long_tail.long_tailed_indices(y, 30, 10.0, random_state=0)
    assert (np.diff(kept) > 0).all()
    counts = np.bincount(y[kept], minlength=5)
    np.testing.assert_array_equal(np.sort(counts)[::-1], long_tail.class_sizes(5, 30, 10.0))
    np.testing.assert_array_equal(kept, long_tail.long_tailed_indices(y, 30, 10.0, 0))
    with pytest.raises(ValueError, match=r"Class .* has 40 rows; the long-tailed profile asks"):
        long_tail.long_tailed_indices(y, 50, 10.0, 0)


def test_digits_lt_has_a_balanced_test_set_and_a_long_tailed_pool():
    spec = long_tail.long_tailed_spec("digits-lt100")
    data = spec.load_data()
    np.testing.assert_array_equal(np.bincount(data.y_test), np.full(10, 50))
    np.testing.assert_array_equal(np.sort(np.bincount(data.y))[::-1],
                                  long_tail.class_sizes(10, 120, 100.0))
    with pytest.raises(ValueError, match="Unknown long-tailed set"):
        long_tail.long_tailed_spec("digits-lt7")


@pytest.fixture(scope="module")
def blobs_model():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(4, 3))
    y = np.repeat(np.arange(4), [150, 60, 20, 10])
    X = centres[y] + rng.normal(size=(len(y), 3))
    labelled = np.array([0, 1, 150, 151])
    model = LogisticRegression(max_iter=500).fit(X[labelled], y[labelled])
    pool = np.setdiff1d(np.arange(len(y)), labelled)
    return model, X[labelled], y[labelled], X[pool]


def test_one_per_cluster_spreads_the_batch_over_clusters_without_a_label(blobs_model):
    model, X_labelled, y_labelled, X_pool = blobs_model
    picks, _ = rare.one_per_cluster_sampling(model, X_pool, 6, X_labelled=X_labelled,
                                             y_labelled=y_labelled)
    Z = kernel_codes(np.concatenate([X_labelled, X_pool]), normalize_rows=True)
    groups = coverage_clusters(Z, 4, 6, cluster_random_state(None))
    pool_groups, sizes = groups[4:][picks], np.bincount(groups)
    held = set(groups[:4])
    open_clusters = {g for g in range(sizes.size) if sizes[g] > 5 and g not in held}
    first = pool_groups[:len(open_clusters)]
    assert set(first) == open_clusters  # one pick in each open cluster first
    assert len(np.unique(picks)) == 6


def test_class_frequency_weights_favour_the_rarely_predicted_class(blobs_model):
    model, X_labelled, y_labelled, X_pool = blobs_model
    picks, _ = rare.class_frequency_sampling(model, X_pool, 5, X_labelled=X_labelled,
                                             y_labelled=y_labelled)
    assert len(np.unique(picks)) == 5
    cold, _ = rare.class_frequency_sampling(LogisticRegression(), X_pool, 5)
    assert len(np.unique(cold)) == 5  # no fitted model: weights 1


def test_rare_class_table_pairs_against_uherding():
    rows = []
    for seed in range(3):
        for strategy, shift in (("uherding", 0.0), ("default", 0.1)):
            for n_labelled, found in ((10, 0.4), (20, 0.8)):
                for metric, value in (("accuracy", 0.5), ("balanced_accuracy", 0.4),
                                      ("classes_found", found)):
                    rows.append(("e", strategy, seed, n_labelled // 10 - 1, n_labelled, metric,
                                 value + (shift if metric != "classes_found" else 0.0)))
    results = pd.DataFrame(rows, columns=["experiment", "strategy", "seed", "round",
                                          "n_labelled", "metric", "value"])
    table = rare.rare_class_table(results, n_classes=5)
    assert table.index[0] == "default"
    assert table.loc["default", "balanced_accuracy_d"] == pytest.approx(0.1)
    assert table.loc["default", "balanced_accuracy_se"] == pytest.approx(0.0)
    assert table.loc["default", "classes_last"] == pytest.approx(4.0)


def test_the_default_is_the_concave_auto_herding_with_class_frequency_weights(blobs_model):
    """The study's class-frequency weights on the concave, auto-geometry herding are the default."""
    from modal_ibal import default_sampling

    model, X_labelled, y_labelled, X_pool = blobs_model
    study = rare.class_frequency_sampling(model, X_pool, 6, random_state=3, X_labelled=X_labelled,
                                          y_labelled=y_labelled, normalize_rows="auto",
                                          concave_clusters=True)
    product = default_sampling(model, X_pool, 6, random_state=3, X_labelled=X_labelled,
                               y_labelled=y_labelled)
    np.testing.assert_array_equal(study[0], product[0])
    np.testing.assert_allclose(study[1], product[1], rtol=1e-12)
