"""The modAL 0.4.2.1 compatibility shim for scikit-learn's renamed check_X_y keyword."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import sklearn.utils
from modAL.models import ActiveLearner, learners
from sklearn.linear_model import LogisticRegression

from modal_ibal._utils import modal_compat


def test_modal_learners_use_the_translating_check():
    assert modal_compat.patch_modal_check_X_y() is True
    assert getattr(learners.check_X_y, modal_compat._PATCH_MARK, False)


def test_patch_is_idempotent():
    before = learners.check_X_y
    modal_compat.patch_modal_check_X_y()
    modal_compat.patch_modal_check_X_y()
    assert learners.check_X_y is before


def test_translation_forwards_to_ensure_all_finite():
    wrapped = modal_compat.translate_finite_keyword(sklearn.utils.check_X_y)
    X, y = np.array([[0.0], [np.nan]]), np.array([0, 1])
    wrapped(X, y, force_all_finite="allow-nan")  # accepted
    with pytest.raises(ValueError, match="NaN"):
        wrapped(X, y, force_all_finite=True)


def test_old_signature_is_left_alone():
    def old_check(X, y, force_all_finite=True):
        return force_all_finite

    assert modal_compat.translate_finite_keyword(old_check) is old_check


def test_installed_sklearn_has_the_new_keyword_only():
    """Documents why the shim exists: the old keyword is gone (>= 1.8) or deprecated."""
    parameters = inspect.signature(sklearn.utils.check_X_y).parameters
    assert "ensure_all_finite" in parameters


def test_active_learner_fit_teach_without_warnings():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), np.arange(40) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learner = ActiveLearner(LogisticRegression(), X_training=X[:20], y_training=y[:20])
        learner.teach(X[20:30], y[20:30])
        assert len(learner.X_training) == 30
