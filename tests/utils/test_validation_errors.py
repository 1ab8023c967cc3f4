"""One error style for parameters: TypeError for a wrong type, ValueError for a wrong value."""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal._utils.validation import (
    check_fraction,
    check_nonnegative_float,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
)

WRONG_TYPES = [True, 2.0, "3", None, np.float64(1.0)]


@pytest.mark.parametrize("check", [check_positive_int, check_nonnegative_int])
@pytest.mark.parametrize("value", WRONG_TYPES)
def test_an_int_of_the_wrong_type_is_a_type_error(check, value):
    with pytest.raises(TypeError, match=r"^The 'size' parameter must be "):
        check(value, "size")


@pytest.mark.parametrize(("check", "value"), [(check_positive_int, 0), (check_positive_int, -2),
                                              (check_nonnegative_int, -1)])
def test_an_int_out_of_range_is_a_value_error(check, value):
    with pytest.raises(ValueError, match=r"^The 'size' parameter must be "):
        check(value, "size")


@pytest.mark.parametrize("check", [check_positive_int, check_nonnegative_int])
def test_numpy_ints_are_ints(check):
    assert check(np.int64(3), "size") == 3 and type(check(np.int64(3), "size")) is int


@pytest.mark.parametrize("check", [check_positive_float, check_nonnegative_float, check_fraction])
@pytest.mark.parametrize("value", [True, "0.5", None, [0.5]])
def test_a_real_number_of_the_wrong_type_is_a_type_error(check, value):
    with pytest.raises(TypeError, match=r"^The 'width' parameter must be a real number"):
        check(value, "width")


@pytest.mark.parametrize(("check", "value"), [
    (check_positive_float, 0.0), (check_positive_float, np.inf), (check_nonnegative_float, -1e-9),
    (check_nonnegative_float, np.nan), (check_fraction, 0.0), (check_fraction, 1.5)])
def test_a_real_number_out_of_range_is_a_value_error(check, value):
    with pytest.raises(ValueError, match=r"^The 'width' parameter must be "):
        check(value, "width")


def test_none_passes_where_it_is_allowed():
    assert check_positive_float(None, "width", allow_none=True) is None
    assert check_fraction(None, "width", allow_none=True) is None
