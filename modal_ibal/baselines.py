"""Former home of the peer strategies; they live in :mod:`modal_ibal.strategies` now.

Kept so that ``from modal_ibal.baselines import ...`` keeps working.
"""

from .coverage import typicality  # noqa: F401
from .strategies import (  # noqa: F401
    BASELINE_STRATEGIES,
    badge_sampling,
    coreset_sampling,
    entropy_sampling,
    margin_sampling,
    probcover_sampling,
    purity_radius,
    random_sampling,
    typiclust_sampling,
)
