"""The one contract every query strategy of the package follows.

::

    strategy(classifier, X_pool, n_instances=1, *, random_state=None,
             X_labelled=None, y_labelled=None, **options) -> (query_indices, query_scores)

This is modAL's functional contract (``ActiveLearner(query_strategy=strategy)``)
with three keywords declared for every strategy, so that a runner, a schedule or
a user can call any of them alike:

* ``random_state`` seeds the strategy's random choices; deterministic strategies
  accept and ignore it.
* ``X_labelled`` / ``y_labelled`` override (or, for a bare fitted estimator,
  supply) the labelled set; strategies that do not look at it accept and ignore them.

Returning both values matters: modAL's ``query`` calls a strategy a second time
when unpacking its result fails, so a strategy that returned only indices would
run twice. A query leaves the caller's global random state (numpy, Python,
torch CPU and CUDA) as it found it. :func:`follows_contract` checks a strategy's
signature when it is defined, fills in the shared part of its docstring and
guarantees the random state.

A strategy also declares whether it takes a Dask pool (``dask_pool=True``:
scored where its chunks live, the same picks as in memory). One that does not
refuses a ``dask.array`` with a ``TypeError`` naming those that do, before
anything is read, instead of turning the pool into one in-memory array.
"""

from __future__ import annotations

import functools
import inspect
import textwrap
from collections.abc import Callable
from typing import Protocol

import numpy as np

from ..utils.randomness import preserved_global_random_state
from ..utils.validation import is_dask_array

__all__ = [
    "CONTRACT_KEYWORDS",
    "DASK_POOL_STRATEGIES",
    "SHARED_PARAMETERS",
    "QueryStrategy",
    "follows_contract",
]

DASK_POOL_STRATEGIES: list[str] = []
"""The names of the strategies declared with ``dask_pool=True``, in definition order."""

CONTRACT_KEYWORDS = ("random_state", "X_labelled", "y_labelled")

SHARED_PARAMETERS = """\
classifier : modAL ActiveLearner or fitted estimator
    The learner modAL passes (model ``estimator``, labelled set
    ``X_training``/``y_training``), or a bare fitted estimator with
    ``X_labelled``/``y_labelled``.
X_pool : array-like of shape (n_pool, ...)
    Unlabelled samples, in the shape the model takes.
n_instances : int, default=1
    Batch size :math:`B`.
random_state : None, int or numpy.random.RandomState, default=None
    Seeds the strategy's random choices (see Notes); a deterministic strategy
    accepts and ignores it. None draws fresh entropy from the operating system;
    numpy's global state is never read or changed.
X_labelled, y_labelled : array-like, optional
    The labelled set; default the learner's ``X_training``/``y_training``. A
    strategy that does not look at it accepts and ignores them."""

_PLACEHOLDER = "{shared_parameters}"


class QueryStrategy(Protocol):
    """The type of a strategy that follows the contract."""

    def __call__(self, classifier, X_pool, n_instances: int = 1, *, random_state=None,
                 X_labelled=None, y_labelled=None,
                 **options) -> tuple[np.ndarray, np.ndarray]: ...


def follows_contract(strategy: Callable | None = None, *, dask_pool: bool = False) -> Callable:
    """Declare that ``strategy`` follows the contract: check its signature, complete its docstring.

    Used as ``@follows_contract`` or ``@follows_contract(dask_pool=True)``. The
    docstring's ``{shared_parameters}`` line becomes :data:`SHARED_PARAMETERS`;
    the returned function runs ``strategy`` with the caller's global random state
    preserved (:func:`modal_ibal.utils.randomness.preserved_global_random_state`). Without
    ``dask_pool`` it refuses a Dask pool (see the module docstring); with it, the
    strategy is listed in :data:`DASK_POOL_STRATEGIES`.

    Raises
    ------
    TypeError
        If the signature does not start with ``(classifier, X_pool, n_instances=1)``
        or lacks a keyword-only ``random_state``, ``X_labelled`` or ``y_labelled``.
    """
    if strategy is None:
        return functools.partial(follows_contract, dask_pool=dask_pool)
    parameters = inspect.signature(strategy).parameters
    positional = [name for name, p in parameters.items()
                  if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    keywords = {name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    if positional[:3] != ["classifier", "X_pool", "n_instances"] or not set(
        CONTRACT_KEYWORDS
    ) <= keywords or parameters["n_instances"].default != 1:
        raise TypeError(
            f"{strategy.__name__} does not follow the strategy contract "
            "(classifier, X_pool, n_instances=1, *, random_state=None, X_labelled=None, "
            "y_labelled=None, ...)."
        )
    doc = strategy.__doc__ or ""
    for line in doc.splitlines():
        if line.strip() == _PLACEHOLDER:
            indent = line[: len(line) - len(line.lstrip())]
            doc = doc.replace(line, textwrap.indent(SHARED_PARAMETERS, indent))
            break
    strategy.__doc__ = doc
    if dask_pool:
        DASK_POOL_STRATEGIES.append(strategy.__name__)

    @functools.wraps(strategy)
    def query(*args, **kwargs):
        if not dask_pool:
            _refuse_dask_pool(strategy.__name__, args[1] if len(args) > 1 else kwargs.get("X_pool"))
        with preserved_global_random_state():
            return strategy(*args, **kwargs)

    return query


def _refuse_dask_pool(name: str, X_pool) -> None:
    if is_dask_array(X_pool):
        raise TypeError(
            f"{name} reads the whole pool into memory and does not take a Dask array as "
            "'X_pool'. The strategies that score a Dask pool where its chunks live: "
            f"{', '.join(DASK_POOL_STRATEGIES)}. For a pool that fits in memory, pass "
            "X_pool.compute()."
        )
