"""Former home of the budget switch; it lives in :mod:`modal_ibal.strategies.budget_switch` now.

Kept so that ``from modal_ibal.schedule import ...`` keeps working.
"""

from .strategies.budget_switch import (  # noqa: F401
    DEFAULT_LABELS_PER_CLASS,
    ibal_budget_switch_sampling,
)
