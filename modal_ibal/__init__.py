"""modal-ibal: data-importance active learning for modAL, skorch and scikit-learn.

What a user imports: the query strategies (modAL's functional strategies, one
contract), their registry, the distance cache, the embeddings and autoencoders
for IBAL-D's distance term, the gamma search, and the two warnings a query may
give. Everything else lives in its layer's sub-package:

==============  ===================================================================
sub-package     what it holds
==============  ===================================================================
``readers``     the model's view: last-layer features, logits and loss gradients
                of skorch nets, scikit-learn models and pipelines; streaming; labels
``search``      exact nearest-labelled search, its cells and cache, k-NN (in memory
                and on a Dask array), k-means
``embedding``   the space distances are measured in: representations, cached
                embeddings, autoencoders
``scoring``     representer-point importance (Eq. 2), its refit, uncertainty, the
                distance term (Eq. 4), calibration, selection of the best scores
``coverage``    coverage engines: TypiClust's clusters, ProbCover's balls, the
                kernel graph and greedy of kernel herding
``strategies``  one module per strategy, the contract and its option checks, the
                registry, and the Dask backends that score a pool where it lives
``stopping``    stopping criteria: stabilising predictions, uncertainty, budget, coverage
``labelling``   labelling for real: a resumable loop over ids, answer files, Label Studio
``experiments`` the paper's experiments: data, networks, runner, results, figures
==============  ===================================================================

Importing the package makes modAL 0.4.2.1's ``ActiveLearner`` work on current
scikit-learn (see :mod:`modal_ibal._utils.modal_compat`); nothing else happens at
import.
"""

from ._utils.modal_compat import patch_modal_check_X_y
from .coverage import UninformativeWeightsWarning
from .embedding import CachedEmbedding, ConvAutoencoder, MLPAutoencoder, embed
from .scoring import TiedScoresWarning
from .search import LabelledDistanceCache, SearchRecallWarning
from .strategies import (
    STRATEGIES,
    badge_sampling,
    coreset_sampling,
    default_sampling,
    entropy_distance_sampling,
    entropy_sampling,
    get_strategy,
    herding_sampling,
    ibal_budget_switch_sampling,
    ibal_cluster_sampling,
    ibal_distance_sampling,
    ibal_sampling,
    margin_sampling,
    probcover_sampling,
    random_sampling,
    typiclust_sampling,
)
from .tuning import GammaSearch, tune_gamma

patch_modal_check_X_y()

__version__ = "0.1.0"

__all__ = [
    "STRATEGIES",
    "CachedEmbedding",
    "ConvAutoencoder",
    "GammaSearch",
    "LabelledDistanceCache",
    "MLPAutoencoder",
    "SearchRecallWarning",
    "TiedScoresWarning",
    "UninformativeWeightsWarning",
    "badge_sampling",
    "coreset_sampling",
    "default_sampling",
    "embed",
    "entropy_distance_sampling",
    "entropy_sampling",
    "get_strategy",
    "herding_sampling",
    "ibal_budget_switch_sampling",
    "ibal_cluster_sampling",
    "ibal_distance_sampling",
    "ibal_sampling",
    "margin_sampling",
    "probcover_sampling",
    "random_sampling",
    "tune_gamma",
    "typiclust_sampling",
]

