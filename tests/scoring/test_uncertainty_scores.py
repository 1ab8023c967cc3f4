"""Uncertainty scores: entropy, margin and the margin weights of kernel herding."""

from __future__ import annotations

import numpy as np

from modal_ibal.scoring.uncertainty import margin_weights


def test_margin_weights_are_one_minus_the_top_two_gap():
    probas = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(margin_weights(probas), [0.8, 1.0, 0.0])
    np.testing.assert_array_equal(margin_weights(np.ones((2, 1))), [1.0, 1.0])
