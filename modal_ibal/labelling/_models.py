"""The models a labelling loop starts with when none is given: small, fast, for tabular features."""

from __future__ import annotations

__all__ = ["TABULAR_MODELS", "tabular_model"]

TABULAR_MODELS = {
    "logistic": "standardised features, then logistic regression (the default)",
    "forest": "a random forest of 200 trees",
    "knn": "standardised features, then the 5 nearest labelled neighbours",
}


def tabular_model(name: str = "logistic", random_state: int = 0):
    """A fresh scikit-learn classifier for tabular features, by name (see :data:`TABULAR_MODELS`).

    Raises
    ------
    ValueError
        When ``name`` is not one of :data:`TABULAR_MODELS`.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if name == "forest":
        return RandomForestClassifier(n_estimators=200, random_state=random_state)
    if name == "knn":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))
    raise ValueError(f"The model must be one of {sorted(TABULAR_MODELS)}. Got {name!r} instead.")
