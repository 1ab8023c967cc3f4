"""The distance term of Eq. 4: the max-normalisation both terms share."""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal.scoring._distance_term import normalise_by_max


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1.0, -4.0, 2.0], [0.25, -1.0, 0.5]), ([0.0, 0.0], [0.0, 0.0]), ([], [])],
)
def test_normalise_by_max(values, expected):
    np.testing.assert_array_equal(normalise_by_max(np.array(values)), expected)
