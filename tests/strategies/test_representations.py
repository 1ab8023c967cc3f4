"""Every covering strategy covers the space its ``representation`` names, and no other.

``'features'`` must be the model's penultimate features (the same picks as an
embedding that returns them), not the raw inputs; ``'inputs'`` the flattened rows.
"""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal import (
    herding_sampling,
    probcover_sampling,
    typiclust_sampling,
)
from modal_ibal.readers._last_layer import last_layer

STRATEGIES = {
    "herding": lambda c, X, **kw: herding_sampling(c, X, 6, random_state=0, **kw),
    "default herding": lambda c, X, **kw: herding_sampling(
        c, X, 6, random_state=0, weights="balanced-margin", normalize_rows="auto",
        concave_clusters=True, **kw),
    "typiclust": lambda c, X, **kw: typiclust_sampling(c, X, 6, random_state=0, **kw),
    "probcover": lambda c, X, **kw: probcover_sampling(c, X, 6, random_state=0, **kw),
}


@pytest.fixture(scope="module")
def features_of(digits_learner):
    reader = last_layer(digits_learner.estimator)
    return lambda X: reader.outputs(np.asarray(X, dtype=np.float32)).features


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_features_are_the_models_features_not_the_inputs(name, digits_learner, digits_split,
                                                        features_of):
    _, _, X_pool = digits_split
    strategy = STRATEGIES[name]
    features, _ = strategy(digits_learner, X_pool, representation="features")
    embedded, _ = strategy(digits_learner, X_pool, representation=features_of)
    inputs, _ = strategy(digits_learner, X_pool, representation="inputs")
    flattened, _ = strategy(digits_learner, X_pool,
                            representation=lambda X: np.asarray(X).reshape(len(X), -1))
    np.testing.assert_array_equal(features, embedded)
    np.testing.assert_array_equal(inputs, flattened)
    assert set(features) != set(inputs)  # the two spaces give other batches here
