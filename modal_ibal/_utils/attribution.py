"""Warnings attributed to the user's line, however deep in the package they are raised.

A fixed ``stacklevel`` names the right line for one call path only: a strategy
reaches the same engine through its contract's wrapper, another strategy or a
Dask backend. :func:`warn_caller` counts the frames up to the first one outside
the package instead, so a warning points at the line that called the library.
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["warn_caller"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def warn_caller(message: str, category: type[Warning]) -> None:
    """``warnings.warn(message, category)`` at the first calling frame outside the package."""
    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
