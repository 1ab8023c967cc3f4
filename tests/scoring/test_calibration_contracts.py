"""Calibration contracts: the ECE's bins and mean, the refused options, and the held-out split.

The split :func:`select_temperature` fits its copy of the model on is read from
a logistic regression that records the rows of every fit.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modal_ibal.scoring._calibration import expected_calibration_error, select_temperature

GRID = np.array([0.5, 2.0])  # 1.0, the answer when nothing is fitted, is not on it


class _RecordingLogisticRegression(LogisticRegression):
    """A logistic regression that records the row ids (column 0 of X) of every fit."""

    fits: ClassVar[list] = []

    def fit(self, X, y, sample_weight=None):
        type(self).fits.append(np.sort(np.asarray(X)[:, 0].astype(int)))
        return super().fit(X, y, sample_weight)


@pytest.fixture
def fits(monkeypatch):
    """The row ids of each fit of a clone of :class:`_RecordingLogisticRegression`."""
    record = []
    monkeypatch.setattr(_RecordingLogisticRegression, "fits", record)
    return record


def _labelled(y):
    """Row ids in column 0 and one feature that separates the classes a little."""
    y = np.asarray(y)
    noise = np.random.default_rng(0).normal(scale=0.5, size=len(y))
    return np.column_stack([np.arange(len(y)), y + noise]), y


def _recording_model(X, y, fits):
    model = _RecordingLogisticRegression().fit(X, y)
    fits.clear()
    return model


def test_a_confidence_of_one_falls_in_the_last_bin():
    probas = np.array([[1.0, 0.0], [0.95, 0.05]])
    # one bin [0.9, 1]: accuracy 1/2 against mean confidence 0.975
    assert expected_calibration_error(probas, np.array([1, 0]), n_bins=10) == pytest.approx(0.475)


@pytest.mark.parametrize(("label", "expected"), [(0, 0.3), (1, 0.7)])
def test_the_ece_of_one_sample_is_its_confidence_gap(label, expected):
    probas = np.array([[0.7, 0.3]])
    assert expected_calibration_error(probas, np.array([label])) == pytest.approx(expected)


@pytest.mark.parametrize(("n_bins", "error"), [(0, ValueError), (-3, ValueError),
                                               (2.5, TypeError), (True, TypeError)])
def test_the_ece_refuses_a_bin_count_that_is_not_a_positive_int(n_bins, error):
    with pytest.raises(error, match=r"^The 'n_bins' parameter must be a positive int"):
        expected_calibration_error(np.eye(2), np.arange(2), n_bins=n_bins)


@pytest.mark.parametrize("grid", [[0.0], [2.0, 0.0]])
def test_a_temperature_of_zero_is_refused(grid):
    X, y = _labelled([0, 1] * 5)
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="'temperatures' parameter must be a non-empty array"):
        select_temperature(model, X, y, temperatures=grid)


@pytest.mark.parametrize("n_labels", [4, 10])
@pytest.mark.parametrize(("validation_size", "error"), [
    (0.0, ValueError), (1.0, ValueError), (1.5, ValueError), (-0.2, ValueError),
    (True, TypeError), ("half", TypeError), (None, TypeError)])
def test_a_validation_size_outside_the_open_unit_interval_is_refused(validation_size, error,
                                                                    n_labels):
    X, y = _labelled([0, 1] * (n_labels // 2))
    model = LogisticRegression().fit(X, y)
    with pytest.raises(error, match=r"'validation_size' parameter must be (a real number )?"
                                    r"in \(0, 1\)"):
        select_temperature(model, X, y, validation_size=validation_size)


@pytest.mark.parametrize("seed", range(5))
def test_five_labels_of_two_classes_are_enough_to_choose_from_the_grid(seed):
    """One point is held out; the four left hold both classes whichever it is."""
    X, y = _labelled([0, 0, 1, 1, 1])
    model = LogisticRegression().fit(X, y)
    assert select_temperature(model, X, y, temperatures=GRID, random_state=seed) in GRID


def test_a_training_part_of_one_class_gives_temperature_one(fits):
    X, y = _labelled([0, 1] * 4)
    model = _recording_model(X, y, fits)
    one_class = np.zeros(8, dtype=int)
    assert select_temperature(model, X, one_class, temperatures=GRID, random_state=0) == 1.0
    assert fits == []  # nothing is fitted on a single class


@pytest.mark.parametrize("counts", [(4, 4), (2, 2, 2)])
@pytest.mark.parametrize("seed", range(8))
def test_the_split_is_stratified_when_every_class_has_two_labels(counts, seed, fits):
    """Half held out: the training part holds exactly half of every class."""
    X, y = _labelled(np.repeat(np.arange(len(counts)), counts))
    model = _recording_model(X, y, fits)
    chosen = select_temperature(model, X, y, temperatures=GRID, validation_size=0.5,
                                random_state=seed)
    assert chosen in GRID
    [rows] = fits
    np.testing.assert_array_equal(np.bincount(y[rows]), np.array(counts) // 2)


def test_too_few_labels_to_stratify_are_split_at_random_with_the_given_share(fits):
    """Five classes of two and four held out: no stratified split exists (4 < 5 classes)."""
    X, y = _labelled(np.repeat(np.arange(5), 2))
    model = _recording_model(X, y, fits)
    for _ in range(3):
        chosen = select_temperature(model, X, y, temperatures=GRID, validation_size=0.4,
                                    random_state=7)
        assert chosen in GRID
    first, *again = fits
    assert len(first) == 6
    for rows in again:  # the split is decided by random_state alone
        np.testing.assert_array_equal(rows, first)


def test_a_held_out_label_of_a_class_the_training_part_lacks_is_a_miss_not_an_error(fits):
    """A class of one label is held out for some seeds: the refit copy never saw it.

    Before: the held-out labels were encoded against the refit copy's classes, and
    this raised a ValueError blaming 'y_labelled' (scikit-learn models; a herding
    query with temperature='calibrated' failed for one random_state in five).
    """
    X, y = _labelled(np.r_[np.zeros(10, int), np.ones(10, int), 2])
    model = _recording_model(X, y, fits)
    for seed in range(20):
        assert select_temperature(model, X, y, temperatures=GRID, random_state=seed) in GRID
    assert sum(20 not in rows for rows in fits) >= 2  # the rare label was held out


@pytest.mark.parametrize("seed", range(12))
def test_a_held_out_label_is_a_hit_if_predicted_and_a_miss_if_its_class_is_unseen(seed, fits):
    """One label held out, classes far apart: a known class is predicted right (accuracy 1,
    calibrated best by the sharpest probabilities, the smallest temperature); the class of
    one label, held out, is unknown to the refit copy: a miss (accuracy 0, the largest)."""
    y = np.array([0, 0, 1, 1, 2])
    X = np.column_stack([np.arange(5), 10.0 * y])
    model = _recording_model(X, y, fits)
    chosen = select_temperature(model, X, y, temperatures=[0.1, 1.0, 10.0], random_state=seed)
    [held_out] = set(range(5)).difference(fits[-1])
    assert chosen == (10.0 if held_out == 4 else 0.1)
