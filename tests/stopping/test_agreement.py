"""Cohen's kappa and the class-balanced agreement, against scikit-learn and by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from modal_ibal.stopping import class_balanced_agreement, cohens_kappa


@pytest.mark.parametrize("seed", range(5))
def test_kappa_matches_scikit_learn(seed):
    rng = np.random.RandomState(seed)
    a = rng.randint(0, 4, 300)
    b = np.where(rng.rand(300) < 0.7, a, rng.randint(0, 4, 300))
    assert cohens_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_identical_single_class_predictions_agree_fully():
    assert cohens_kappa(["a"] * 5, ["a"] * 5) == 1.0
    assert class_balanced_agreement(["a"] * 5, ["a"] * 5) == 1.0


def test_a_flipping_rare_class_moves_the_balanced_agreement_not_kappa():
    common = np.zeros(997, dtype=int)
    previous = np.concatenate([common, [1, 1, 1]])
    current = np.concatenate([common, [1, 1, 0]])  # one of the rare class's three flipped
    # class 0: 997 shared of 998 predicted; class 1: 2 shared of 3 predicted
    assert class_balanced_agreement(previous, current) == pytest.approx((997 / 998 + 2 / 3) / 2)
    assert cohens_kappa(previous, current) > 0.79
    assert class_balanced_agreement(previous, current) < 0.84


def test_balanced_agreement_is_one_only_for_equal_vectors():
    assert class_balanced_agreement([0, 1, 2], [0, 1, 2]) == 1.0
    assert class_balanced_agreement([0, 1, 2], [0, 1, 1]) < 1.0


@pytest.mark.parametrize("function", [cohens_kappa, class_balanced_agreement])
def test_vectors_of_other_lengths_or_empty_are_refused(function):
    with pytest.raises(ValueError, match="same length"):
        function([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="non-empty"):
        function([], [])
