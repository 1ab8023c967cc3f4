"""The spaces distances are measured in.

``codes`` maps a pool into a representation (an embedding, the model's
penultimate features, or the raw inputs); ``cache`` remembers an expensive
embedding by row content; ``autoencoders`` are the scikit-learn transformers of
the paper's IBAL-D latent space, built on ``autoencoder_base`` and
``autoencoder_modules``.
"""

from ._autoencoders import ConvAutoencoder, MLPAutoencoder
from ._cache import CachedEmbedding
from ._codes import check_embedding, check_representation, query_codes, representation_codes
from ._embed import embed

__all__ = [
    "CachedEmbedding",
    "ConvAutoencoder",
    "MLPAutoencoder",
    "check_embedding",
    "check_representation",
    "embed",
    "query_codes",
    "representation_codes",
]

