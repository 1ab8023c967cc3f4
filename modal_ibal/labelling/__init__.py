"""Labelling for real: a resumable loop over a pool with ids, answer files, Label Studio exchange.

The loop (:class:`LabellingLoop`) ranks the next batch of ids with any modAL
strategy, takes (id, label) answers that arrive late, partly or with skips,
refits, updates the stopping criteria, and saves its state atomically. The
``modal-ibal label`` command drives it from CSV or Parquet files.
"""

from ._answers import SKIP, Answers, read_answers
from ._cli import add_label_command, run_label_command
from ._ids import IdPool
from ._loop import LabellingLoop
from ._models import TABULAR_MODELS, tabular_model
from ._state import DamagedStateError, load_state, save_state

__all__ = [
    "SKIP",
    "TABULAR_MODELS",
    "Answers",
    "DamagedStateError",
    "IdPool",
    "LabellingLoop",
    "add_label_command",
    "load_state",
    "read_answers",
    "run_label_command",
    "save_state",
    "tabular_model",
]
