"""The one place that knows modAL's and scikit-learn's version quirks.

modAL-python 0.4.2.1 (its last release) calls
``sklearn.utils.check_X_y(..., force_all_finite=...)`` in ``ActiveLearner.fit``
and ``teach``. scikit-learn 1.6 renamed that keyword to ``ensure_all_finite``
(a ``FutureWarning``) and 1.8 removed it (a ``TypeError``; modAL issue #196).
:func:`patch_modal_check_X_y` replaces the name ``check_X_y`` inside
``modAL.models.learners`` with a wrapper that translates the keyword, so
modAL's own ``ActiveLearner`` works unchanged on every scikit-learn release.
``modal_ibal`` applies it once when it is imported; the patch is idempotent and
touches nothing when the installed scikit-learn still takes the old keyword.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import sklearn.utils

__all__ = ["patch_modal_check_X_y", "translate_finite_keyword"]

_PATCH_MARK = "_modal_ibal_patched"


def _accepts_ensure_all_finite(check: Callable) -> bool:
    return "ensure_all_finite" in inspect.signature(check).parameters


def translate_finite_keyword(check: Callable) -> Callable:
    """Wrap a scikit-learn validator so that it accepts ``force_all_finite``.

    Parameters
    ----------
    check : callable
        ``sklearn.utils.check_X_y`` or ``sklearn.utils.check_array``.

    Returns
    -------
    callable
        ``check`` itself when it has no ``ensure_all_finite`` keyword (old
        scikit-learn), else a wrapper that renames ``force_all_finite`` to
        ``ensure_all_finite`` before calling ``check``.
    """
    if not _accepts_ensure_all_finite(check):
        return check

    @functools.wraps(check)
    def wrapper(*args, **kwargs):
        if "force_all_finite" in kwargs:
            kwargs["ensure_all_finite"] = kwargs.pop("force_all_finite")
        return check(*args, **kwargs)

    setattr(wrapper, _PATCH_MARK, True)
    return wrapper


def patch_modal_check_X_y() -> bool:
    """Make modAL's learners call ``check_X_y`` with the current keyword.

    Returns
    -------
    bool
        True when ``modAL.models.learners.check_X_y`` is (now) the translating
        wrapper, False when modAL is not installed or needs no patch.
    """
    try:
        from modAL.models import learners
    except ImportError:
        return False
    current = learners.check_X_y
    if getattr(current, _PATCH_MARK, False):
        return True
    patched = translate_finite_keyword(sklearn.utils.check_X_y)
    if patched is sklearn.utils.check_X_y:
        return False
    learners.check_X_y = patched
    return True
