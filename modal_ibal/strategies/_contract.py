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

The contract is also the one place that decides how a pool is read. A strategy
declares its Dask backend (``dask_pool=``, a function of one of this package's
``_dask_*`` modules, which scores the pool where its chunks live and gives the same
picks as in memory); a ``dask.array`` pool then goes to that backend, with the strategy's own
arguments bound to its signature, and any other pool to the strategy, which reads
it whole or streams it in row chunks (:class:`modal_ibal.readers.LabelledView`).
A strategy without a backend refuses a ``dask.array`` with a ``TypeError`` naming
those that have one, before anything is read, instead of turning the pool into
one in-memory array.

And it is where a strategy's options are checked, once for both paths: each
keyword with a declared check (``parameters=``, and with ``shared_options=True``
the package's :data:`~modal_ibal.strategies._parameters.OPTION_CHECKS`) is checked
as the call comes in, before the pool, the model or the labelled set is read.
"""

from __future__ import annotations

import functools
import inspect
import textwrap
from collections.abc import Callable
from typing import Protocol

import numpy as np

from .._utils.randomness import preserved_global_random_state
from .._utils.validation import is_dask_array
from ..readers import COLD_START_STRATEGIES
from ._parameters import OPTION_CHECKS, OptionCheck, checked_options

__all__ = [
    "CONTRACT_KEYWORDS",
    "DASK_POOL_STRATEGIES",
    "SHARED_PARAMETERS",
    "QueryStrategy",
    "follows_contract",
]

DASK_POOL_STRATEGIES: list[str] = []
"""Names of the strategies declared with a Dask backend (``dask_pool=``), in order."""

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


def follows_contract(strategy: Callable | None = None, *, dask_pool: Callable | None = None,
                     cold_start: bool = False, shared_options: bool = False,
                     parameters: dict[str, OptionCheck] | None = None) -> Callable:
    """Declare that ``strategy`` follows the contract: check its signature, complete its docstring.

    Used as ``@follows_contract`` or ``@follows_contract(dask_pool=backend, cold_start=True)``
    (the strategy can pick a batch from zero labels and an unfitted model: it is listed
    in :data:`~modal_ibal.readers.COLD_START_STRATEGIES`, which the error for a
    strategy that cannot names). The
    docstring's ``{shared_parameters}`` line becomes :data:`SHARED_PARAMETERS`;
    the returned function runs ``strategy`` with the caller's global random state
    preserved (:func:`modal_ibal._utils.randomness.preserved_global_random_state`).
    Without ``dask_pool`` it refuses a Dask pool (see the module docstring); with
    it, a Dask pool is answered by ``backend(query, **arguments)``, ``query`` the
    returned function and ``arguments`` the call bound to ``strategy``'s signature
    with its defaults, and the strategy is listed in :data:`DASK_POOL_STRATEGIES`.
    ``parameters`` maps the strategy's options to their checks
    (``check(value, name) -> value``), run on the values a caller passes before
    the strategy or its backend runs; ``shared_options=True`` adds the checks of
    :data:`~modal_ibal.strategies._parameters.OPTION_CHECKS` for the options the
    strategy takes (as this package's strategies do: ``gamma``, ``batch_size``,
    ``representation``, ...), under this package's meaning of those names.

    Raises
    ------
    TypeError
        If the signature does not start with ``(classifier, X_pool, n_instances=1)``
        or lacks a keyword-only ``random_state``, ``X_labelled`` or ``y_labelled``,
        or ``parameters`` names an option the strategy does not take.
    """
    if strategy is None:
        return functools.partial(follows_contract, dask_pool=dask_pool, cold_start=cold_start,
                                 shared_options=shared_options, parameters=parameters)
    signature = inspect.signature(strategy)
    declared = signature.parameters
    positional = [name for name, p in declared.items()
                  if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    keywords = {name for name, p in declared.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    if positional[:3] != ["classifier", "X_pool", "n_instances"] or not set(
        CONTRACT_KEYWORDS
    ) <= keywords or declared["n_instances"].default != 1:
        raise TypeError(
            f"{strategy.__name__} does not follow the strategy contract "
            "(classifier, X_pool, n_instances=1, *, random_state=None, X_labelled=None, "
            "y_labelled=None, ...)."
        )
    unknown = sorted(set(parameters or ()) - keywords)
    if unknown:
        raise TypeError(f"{strategy.__name__} has no keyword-only options {unknown} to check.")
    shared = OPTION_CHECKS if shared_options else {}
    checks = {name: check for name, check in {**shared, **(parameters or {})}.items()
              if name in keywords}
    doc = strategy.__doc__ or ""
    for line in doc.splitlines():
        if line.strip() == _PLACEHOLDER:
            indent = line[: len(line) - len(line.lstrip())]
            doc = doc.replace(line, textwrap.indent(SHARED_PARAMETERS, indent))
            break
    strategy.__doc__ = doc
    if dask_pool is not None:
        DASK_POOL_STRATEGIES.append(strategy.__name__)
    if cold_start:
        COLD_START_STRATEGIES.append(strategy.__name__)

    @functools.wraps(strategy)
    def query(*args, **kwargs):
        on_dask = is_dask_array(args[1] if len(args) > 1 else kwargs.get("X_pool"))
        if on_dask and dask_pool is None:
            _refuse_dask_pool(strategy.__name__)
        arguments = signature.bind(*args, **kwargs)
        with preserved_global_random_state():
            checked_options(arguments.arguments, checks)
            if on_dask:
                arguments.apply_defaults()
                return dask_pool(query, **arguments.arguments)
            return strategy(*arguments.args, **arguments.kwargs)

    return query


def _refuse_dask_pool(name: str) -> None:
    raise TypeError(
        f"{name} reads the whole pool into memory and does not take a Dask array as "
        "'X_pool'. The strategies that score a Dask pool where its chunks live: "
        f"{', '.join(DASK_POOL_STRATEGIES)}. For a pool that fits in memory, pass "
        "X_pool.compute()."
    )
