"""modal-ibal: data-importance active learning (IBAL, IBAL-D) for modAL, skorch and scikit-learn.

Importing the package makes modAL 0.4.2.1's ``ActiveLearner`` work on current
scikit-learn (see :mod:`modal_ibal._compat`); nothing else happens at import.
"""

from ._compat import patch_modal_check_X_y
from .autoencoder import ConvAutoencoder, MLPAutoencoder
from .coverage import UninformativeWeightsWarning, typicality
from .datasets import load_cifar100, load_digits_images, load_fashion_mnist, make_synthetic
from .distance import nearest_labelled_distance, nearest_labelled_index, normalise_by_max
from .distance_cache import LabelledDistanceCache
from .embedding import CachedEmbedding, embed
from .extract import LastLayer, LastLayerOutputs, last_layer
from .learner import labelled_view
from .models import (
    MLP,
    SeededNeuralNetClassifier,
    SmallCNN,
    cifar_resnet18,
    default_device,
    make_classifier,
)
from .representer import (
    READINGS,
    class_feature_sums,
    ibal_scores,
    literal_ibal_scores,
    refit_last_layer,
    representer_importance,
    representer_logits,
    representer_weights,
)
from .scores import predictive_entropy
from .selection import TiedScoresWarning, select_highest, select_lowest
from .strategies import (
    BASELINE_STRATEGIES,
    IBAL_READINGS,
    badge_sampling,
    coreset_sampling,
    default_sampling,
    disagreement_ranks,
    entropy_distance_sampling,
    entropy_sampling,
    herding_sampling,
    ibal_budget_switch_sampling,
    ibal_cluster_sampling,
    ibal_distance_sampling,
    ibal_sampling,
    margin_sampling,
    probcover_sampling,
    purity_radius,
    random_sampling,
    typiclust_sampling,
)
from .tuning import GammaSearch, tune_gamma

patch_modal_check_X_y()

__version__ = "0.1.0"

__all__ = [
    "BASELINE_STRATEGIES",
    "IBAL_READINGS",
    "MLP",
    "READINGS",
    "CachedEmbedding",
    "ConvAutoencoder",
    "GammaSearch",
    "LabelledDistanceCache",
    "LastLayer",
    "LastLayerOutputs",
    "MLPAutoencoder",
    "SeededNeuralNetClassifier",
    "SmallCNN",
    "TiedScoresWarning",
    "UninformativeWeightsWarning",
    "badge_sampling",
    "cifar_resnet18",
    "class_feature_sums",
    "coreset_sampling",
    "default_device",
    "default_sampling",
    "disagreement_ranks",
    "embed",
    "entropy_distance_sampling",
    "entropy_sampling",
    "herding_sampling",
    "ibal_budget_switch_sampling",
    "ibal_cluster_sampling",
    "ibal_distance_sampling",
    "ibal_sampling",
    "ibal_scores",
    "labelled_view",
    "last_layer",
    "literal_ibal_scores",
    "load_cifar100",
    "load_digits_images",
    "load_fashion_mnist",
    "make_classifier",
    "make_synthetic",
    "margin_sampling",
    "nearest_labelled_distance",
    "nearest_labelled_index",
    "normalise_by_max",
    "predictive_entropy",
    "probcover_sampling",
    "purity_radius",
    "random_sampling",
    "refit_last_layer",
    "representer_importance",
    "representer_logits",
    "representer_weights",
    "select_highest",
    "select_lowest",
    "tune_gamma",
    "typicality",
    "typiclust_sampling",
]
