"""The budget switch: cluster-IBAL while labels are few, IBAL-D from the switch on."""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal import ibal_budget_switch_sampling, ibal_cluster_sampling, ibal_distance_sampling


def test_switches_at_labels_per_class_times_classes(fitted_net, split):
    X_labelled, y_labelled, X_pool = split  # 40 labels, 10 classes
    kwargs = dict(X_labelled=X_labelled, y_labelled=y_labelled)
    early = ibal_budget_switch_sampling(fitted_net, X_pool, 5, labels_per_class=5,
                                        random_state=0, **kwargs)
    np.testing.assert_array_equal(
        early[0], ibal_cluster_sampling(fitted_net, X_pool, 5, random_state=0, **kwargs)[0])
    late = ibal_budget_switch_sampling(fitted_net, X_pool, 5, labels_per_class=4,
                                       random_state=0, gamma=0.5, **kwargs)
    np.testing.assert_array_equal(
        late[0], ibal_distance_sampling(fitted_net, X_pool, 5, gamma=0.5, **kwargs)[0])


def test_custom_strategies_get_the_contract_keywords(fitted_net, split):
    # every strategy follows the declared contract, so the switch passes random_state on
    X_labelled, y_labelled, X_pool = split
    seen = {}

    def late(classifier, X, n_instances=1, *, random_state=None, **kwargs):
        seen["random_state"] = random_state
        seen.update(kwargs)
        return np.arange(n_instances), np.zeros(n_instances)

    indices, _ = ibal_budget_switch_sampling(fitted_net, X_pool, 3, labels_per_class=1,
                                             late=late, random_state=7, X_labelled=X_labelled,
                                             y_labelled=y_labelled)
    np.testing.assert_array_equal(indices, [0, 1, 2])
    assert seen["random_state"] == 7 and seen["X_labelled"] is X_labelled


def test_bad_switch_budget(fitted_net, split):
    X_labelled, y_labelled, X_pool = split
    with pytest.raises(ValueError, match="'labels_per_class' parameter must be a positive int"):
        ibal_budget_switch_sampling(fitted_net, X_pool, 1, labels_per_class=0,
                                    X_labelled=X_labelled, y_labelled=y_labelled)


def test_modal_loop_crosses_the_switch(digits):
    import functools

    from conftest import make_net
    from modAL.models import ActiveLearner

    X, y = digits
    ran = []

    def recording(name, strategy):
        def query(classifier, X_pool, n_instances=1, **kwargs):
            ran.append((name, len(classifier.X_training)))
            return strategy(classifier, X_pool, n_instances, **kwargs)
        return query

    strategy = functools.partial(
        ibal_budget_switch_sampling, labels_per_class=3, random_state=0,
        early=recording("cluster-IBAL", ibal_cluster_sampling),
        late=recording("IBAL-D", ibal_distance_sampling))
    learner = ActiveLearner(make_net(max_epochs=3), query_strategy=strategy,
                            X_training=X[:20], y_training=y[:20])
    pool = np.arange(20, 400)
    for _ in range(3):  # 20 labels (cluster-IBAL), 30 (IBAL-D from 3 x 10), 40
        indices, _ = learner.query(X[pool], n_instances=10)
        learner.teach(X[pool][indices], y[pool][indices])
        pool = np.delete(pool, indices)
    assert ran == [("cluster-IBAL", 20), ("IBAL-D", 30), ("IBAL-D", 40)]
    assert len(learner.X_training) == 50
