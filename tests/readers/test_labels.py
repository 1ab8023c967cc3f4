"""The one label-to-column rule, as the readers and the experiments' classifier use it."""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal.readers._labels import (
    ColumnLabels,
    column_indices,
    encode_labels,
    label_columns,
    label_vector,
)


@pytest.mark.parametrize(
    ("classes", "y", "expected"),
    [
        (np.array([0, 1, 2]), np.array([2, 0, 2, 1]), [2, 0, 2, 1]),
        (np.array(["ant", "bee", "cat"]), np.array(["cat", "ant"]), [2, 0]),
        (np.array([5, 1, 3]), np.array([1, 3, 5]), [1, 2, 0]),  # columns in the model's order
        (np.array([0.0, 1.0]), np.array([1, 0]), [1, 0]),  # integral floats equal their ints
    ],
)
def test_each_label_goes_to_its_column(classes, y, expected):
    np.testing.assert_array_equal(label_columns(y, classes), expected)
    np.testing.assert_array_equal(encode_labels(y[:, None], classes), expected)  # a column too


@pytest.mark.parametrize(
    ("classes", "y"),
    [(np.array([0, 1, 2]), np.array([0, 7])), (np.array([0, 1, 2]), np.array(["cat"])),
     (np.array(["ant", "bee"]), np.array([0]))],
)
def test_unknown_labels_name_the_argument_and_the_classes(classes, y):
    with pytest.raises(ValueError, match=r"'y_labelled' parameter holds labels .* not among the "
                                         r"model's classes"):
        encode_labels(y, classes)


def test_labels_must_be_one_dimensional():
    with pytest.raises(ValueError, match="'y_labelled' parameter must be a 1-D array"):
        encode_labels(np.zeros((3, 2)), np.array([0, 1]))


def test_labels_without_classes_are_their_own_columns():
    np.testing.assert_array_equal(column_indices(np.array([2.0, 0.0, 1.0]), 3), [2, 0, 1])
    with pytest.raises(ValueError, match="holds the label 3, but the module has 3 outputs"):
        column_indices(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="not output column indices"):
        column_indices(np.array([0.5]), 3)


def test_columns_go_back_to_their_labels():
    classes = np.array(["ant", "bee", "cat"])
    np.testing.assert_array_equal(ColumnLabels(classes)(np.array([2, 0])), ["cat", "ant"])


def test_label_vector_takes_a_column_and_refuses_multi_output_targets():
    np.testing.assert_array_equal(label_vector(np.array([[1], [2]])), [1, 2])
    for y in (np.zeros((4, 3)), np.zeros((4, 1, 1)), np.float64(1.0)):
        with pytest.raises(ValueError, match=(
                r"^The 'y_training' parameter must be a 1-D array of class labels, one per "
                r"sample\. Got shape \(.*\) instead; multi-label and multi-output targets are "
                r"not supported\.$")):
            label_vector(y, "y_training")
    with pytest.raises(ValueError, match=r"^The 'y_labelled' parameter .* Got shape \(4, 2\)"):
        encode_labels(np.zeros((4, 2)), np.array([0.0, 1.0]))
