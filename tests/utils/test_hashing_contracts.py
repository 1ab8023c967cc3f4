"""Content keys of rows: every lane is the documented multilinear sum of the row's 16-bit words.

Also the first row of every distinct key pair and each row's key rank.
"""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal._utils.hashing import draw_multipliers, first_occurrences, row_keys, words_per_row

_P = 2_097_143


def _expected_keys(X, multipliers):
    """The residues in exact int64 arithmetic, packed 21 bits apart, one key per lane."""
    raw = np.ascontiguousarray(X).reshape(len(X), -1).view(np.uint8)
    if raw.shape[1] % 2:
        raw = np.hstack([raw, np.zeros((len(X), 1), np.uint8)])
    words = raw.view(np.uint16).astype(np.int64)
    residues = (words @ multipliers.astype(np.int64)) % _P  # every sum below 2**63
    packed = residues.astype(np.uint64)
    return [packed[:, r] | (packed[:, r + 1] << np.uint64(21)) | (packed[:, r + 2] << np.uint64(42))
            for r in range(0, packed.shape[1], 3)]


@pytest.mark.parametrize(
    ("dtype", "shape"),
    [(np.float32, (9, 3)), (np.float64, (7, 5)), (np.uint8, (6, 3)), (np.uint8, (4, 1, 5)),
     (np.bool_, (5, 7)), (np.int16, (3, 4))],
)
@pytest.mark.parametrize("n_lanes", [1, 2])
def test_row_keys_are_the_modular_sums_of_the_row_words(dtype, shape, n_lanes):
    rng = np.random.default_rng(0)
    X = (rng.random(shape) * 200).astype(dtype)
    multipliers = draw_multipliers(words_per_row(X), rng, n_lanes=n_lanes)
    keys = row_keys(X, multipliers)
    assert len(keys) == n_lanes
    for got, expected in zip(keys, _expected_keys(X, multipliers), strict=True):
        assert got.dtype == np.uint64
        np.testing.assert_array_equal(got, expected)


def test_row_keys_of_many_rows_and_of_rows_wider_than_a_word_block():
    rng = np.random.default_rng(1)
    for X in (rng.integers(0, 1 << 16, size=(5000, 32)).astype(np.uint16),
              rng.integers(0, 1 << 16, size=(3, 70_000)).astype(np.uint16)):
        multipliers = draw_multipliers(X.shape[1], rng)
        for got, expected in zip(row_keys(X, multipliers), _expected_keys(X, multipliers),
                                 strict=True):
            np.testing.assert_array_equal(got, expected)


def test_draw_multipliers_shape_range_and_stream():
    multipliers = draw_multipliers(50, np.random.default_rng(2))
    assert multipliers.shape == (50, 6) and multipliers.dtype == np.float64
    assert draw_multipliers(3, np.random.default_rng(2), n_lanes=1).shape == (3, 3)
    assert multipliers.min() >= 0 and multipliers.max() < _P
    np.testing.assert_array_equal(multipliers,
                                  np.random.default_rng(2).integers(0, _P, size=(50, 6)))


def test_first_occurrences_of_key_pairs():
    lane0 = np.array([5, 3, 5, 3, 7, 5, 3], dtype=np.uint64)
    lane1 = np.array([1, 1, 2, 1, 0, 1, 9], dtype=np.uint64)
    first, inverse = first_occurrences(lane0, lane1)
    np.testing.assert_array_equal(first, [0, 1, 2, 4, 6])
    np.testing.assert_array_equal(inverse, [0, 1, 2, 1, 3, 0, 4])


def test_a_repeated_key_after_the_first_group_is_found_once():
    """Rows whose first lanes agree but second lanes differ, and a later key given twice."""
    lane0 = np.array([5, 5, 7, 7, 7], dtype=np.uint64)
    lane1 = np.array([1, 2, 4, 3, 4], dtype=np.uint64)
    first, inverse = first_occurrences(lane0, lane1)
    np.testing.assert_array_equal(first, [0, 1, 2, 3])
    np.testing.assert_array_equal(inverse, [0, 1, 2, 3, 2])
