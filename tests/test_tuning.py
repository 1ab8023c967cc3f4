"""tune_gamma: short modAL runs per candidate, validation AULC, the best gamma."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_net
from sklearn.linear_model import LogisticRegression

from modal_ibal import (
    CachedEmbedding,
    GammaSearch,
    MLPAutoencoder,
    entropy_distance_sampling,
    tune_gamma,
)


@pytest.fixture
def splits(digits):
    X, y = digits
    order = np.random.default_rng(0).permutation(len(X))
    train, val = order[:240], order[240:400]
    return X[train], y[train], X[val], y[val]


def _naive_aulc(curve):
    x, a = curve["n_labelled"].to_numpy(float), curve["accuracy"].to_numpy(float)
    return np.trapezoid(a, x) / (x[-1] - x[0])


def test_table_curves_and_best_gamma(splits):
    search = tune_gamma(LogisticRegression(max_iter=200), *splits, gammas=[1.0, 0.0, 0.3],
                        n_initial=20, n_instances=10, n_rounds=2, n_repeats=2, random_state=0)
    assert isinstance(search, GammaSearch)
    assert search.table["gamma"].tolist() == [0.0, 0.3, 1.0]
    assert len(search.curves) == 3 * 2 * 3
    assert search.curves["n_labelled"].tolist()[:3] == [20, 30, 40]
    assert search.curves["accuracy"].between(0, 1).all()
    for gamma, rows in search.curves.groupby("gamma"):
        per_repeat = [_naive_aulc(run) for _, run in rows.groupby("repeat")]
        expected = search.table.set_index("gamma").loc[gamma]
        np.testing.assert_allclose(expected["mean_aulc"], np.mean(per_repeat), rtol=1e-12)
        np.testing.assert_allclose(expected["std_aulc"], np.std(per_repeat), atol=1e-12)
        np.testing.assert_allclose(expected["final_accuracy"],
                                   rows[rows["round"] == 2]["accuracy"].mean(), rtol=1e-12)
    best = search.table["mean_aulc"].max()
    assert search.best_gamma == search.table[search.table["mean_aulc"] == best]["gamma"].min()


def test_every_candidate_starts_from_the_same_initial_sets(splits):
    search = tune_gamma(LogisticRegression(max_iter=200), *splits, gammas=[0.0, 5.0],
                        n_initial=20, n_instances=5, n_rounds=1, n_repeats=2, random_state=1)
    initial = search.curves[search.curves["round"] == 0].set_index(["repeat", "gamma"])["accuracy"]
    for repeat in (0, 1):
        assert initial.loc[(repeat, 0.0)] == initial.loc[(repeat, 5.0)]


def test_no_rounds_scores_the_initial_fit(splits):
    search = tune_gamma(LogisticRegression(max_iter=200), *splits, gammas=[0.5], n_initial=30,
                        n_rounds=0, random_state=0)
    assert search.table["mean_aulc"].iloc[0] == search.curves["accuracy"].iloc[0]
    assert search.best_gamma == 0.5


def test_skorch_net_with_autoencoder_codes_is_reproducible(splits):
    X_train, y_train, X_val, y_val = splits
    embedding = CachedEmbedding(MLPAutoencoder(max_epochs=2, random_state=0).fit(X_train),
                                random_state=0)
    torch_state = torch.get_rng_state()

    def search():
        return tune_gamma(make_net(max_epochs=4), X_train, y_train, X_val, y_val,
                          gammas=[0.0, 1.0], strategy=entropy_distance_sampling,
                          n_initial=20, n_instances=5, n_rounds=2, random_state=3,
                          embedding=embedding)

    first, second = search(), search()
    np.testing.assert_array_equal(first.curves.to_numpy(), second.curves.to_numpy())
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert embedding.n_misses == len(X_train)  # each training sample encoded once, in all runs


def test_a_factory_gets_one_seed_per_repeat(splits):
    seeds = []

    def factory(seed):
        seeds.append(seed)
        return LogisticRegression(max_iter=200, random_state=seed)

    tune_gamma(factory, *splits, gammas=[0.0, 1.0], n_initial=20, n_instances=5, n_rounds=1,
               n_repeats=3, random_state=0)
    assert len(seeds) == 6 and seeds[:3] == seeds[3:] and len(set(seeds[:3])) == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gammas": []}, "'gammas' parameter of tune_gamma must be a non-empty"),
        ({"gammas": [0.0, -1.0]}, "'gammas' parameter"),
        ({"gammas": [1.0, 1.0]}, "'gammas' parameter"),
        ({"gammas": [float("nan")]}, "'gammas' parameter"),
        ({"n_rounds": -1}, "'n_rounds' parameter must be an int >= 0"),
        ({"n_initial": 0}, "'n_initial' parameter must be a positive int"),
        ({"n_initial": 200, "n_rounds": 5, "n_instances": 10}, "250 samples, but 'X_train' holds"),
    ],
)
def test_invalid_parameters(splits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tune_gamma(LogisticRegression(), *splits, **kwargs)


def test_labels_must_match_the_samples(splits):
    X_train, y_train, X_val, y_val = splits
    with pytest.raises(ValueError, match="one label per sample"):
        tune_gamma(LogisticRegression(), X_train, y_train[:-1], X_val, y_val)
