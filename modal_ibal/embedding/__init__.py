"""The spaces distances are measured in.

``codes`` maps a pool into a representation (an embedding, the model's
penultimate features, or the raw inputs); ``cache`` remembers an expensive
embedding by row content; ``autoencoders`` are the scikit-learn transformers of
the paper's IBAL-D latent space, built on ``autoencoder_base`` and
``autoencoder_modules``.
"""

from .autoencoders import ConvAutoencoder, MLPAutoencoder
from .cache import CachedEmbedding
from .embed import embed

__all__ = ["CachedEmbedding", "ConvAutoencoder", "MLPAutoencoder", "embed"]

