"""Uncertainty scores: entropy, margin and the margin weights of kernel herding."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from modal_ibal.readers import pool_probabilities
from modal_ibal.scoring._uncertainty import margin_weights


def test_margin_weights_are_one_minus_the_top_two_gap():
    probas = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(margin_weights(probas), [0.8, 1.0, 0.0])
    np.testing.assert_array_equal(margin_weights(np.ones((2, 1))), [1.0, 1.0])


def _multi_label_models():
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.multioutput import ClassifierChain, MultiOutputClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "multi-output": (MultiOutputClassifier(LogisticRegression()),
                         "MultiOutputClassifier, fitted on 2 outputs"),
        "chain": (ClassifierChain(LogisticRegression()), "ClassifierChain, fitted on 2 outputs"),
        "neighbours": (KNeighborsClassifier(3), "KNeighborsClassifier, fitted on 2 outputs"),
        "one-vs-rest": (OneVsRestClassifier(LogisticRegression()),
                        "OneVsRestClassifier, fitted on multi-label targets"),
        "mlp": (MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0),
                "MLPClassifier, fitted on 2 outputs"),
        "pipeline": (make_pipeline(StandardScaler(), MultiOutputClassifier(LogisticRegression())),
                     "Pipeline, fitted on 2 outputs"),
    }


@pytest.mark.parametrize("model", list(_multi_label_models()))
def test_pool_probabilities_refuse_multi_label_models(model):
    """Their predict_proba is a list of arrays, or one probability per label: no (n, C) array."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = (X[:, :2] > 0).astype(int)  # two binary labels per sample
    estimator, reason = _multi_label_models()[model]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence
        estimator.fit(X, Y)
    with pytest.raises(TypeError, match=(
            r"The 'classifier' parameter must be a single-output classifier whose predict_proba "
            r"gives an \(n_samples, n_classes\) array\. Got " + reason)):
        pool_probabilities(estimator, X, 16)


class _Proba:
    """A classifier whose predict_proba returns what it is given, whatever its shape."""

    def __init__(self, probas):
        self.probas = probas

    def predict_proba(self, X):
        return self.probas


@pytest.mark.parametrize(("probas", "shown"), [
    ([np.full((5, 2), 0.5)] * 3, "gives a list of 3 arrays"),
    (np.full((5, 2, 3), 0.5), r"gives shape \(5, 2, 3\) for 5 samples"),
    (np.full((4, 2), 0.5), r"gives shape \(4, 2\) for 5 samples"),
])
def test_pool_probabilities_must_be_one_row_per_sample(probas, shown):
    with pytest.raises(TypeError, match=r"single-output classifier .* Got _Proba, whose predict_proba " + shown):
        pool_probabilities(_Proba(probas), np.zeros((5, 3)), 16)


def test_pool_probabilities_name_a_pool_the_model_cannot_take():
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(30, 16))
    model = LogisticRegression().fit(X, X[:, 0] > 0)
    with pytest.raises(ValueError, match=(
            r"^The 'X_pool' parameter has 10 features, but the model was fitted on 16\.$")):
        pool_probabilities(model, X[:, :10], 16)
    with pytest.raises(ValueError, match=r"^The 'X_pool' parameter must be 2-D"):
        pool_probabilities(model, X.reshape(30, 4, 4), 16)


@pytest.mark.parametrize("fast", [True, False], ids=["batched", "predict_proba"])
def test_pool_probabilities_name_a_pool_the_net_cannot_take(fast):
    """torch's RuntimeError, from the reader or from skorch's predict_proba, names X_pool."""
    from conftest import TinyMLP, make_net

    X = np.random.default_rng(0).normal(size=(30, 16)).astype(np.float32)
    options = {} if fast else {"predict_nonlinearity": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = make_net(TinyMLP(n_features=16), n_classes=10, max_epochs=1, **options).fit(
            X, np.arange(30) % 10)
    with pytest.raises(ValueError, match=(
            r"^The 'X_pool' parameter does not fit the model: .*mat1 and mat2 shapes cannot be "
            r"multiplied")):
        pool_probabilities(net, X[:, :10], 16)


def test_class_balanced_margin_weights_divide_by_the_predicted_class_share():
    from modal_ibal.scoring._uncertainty import class_balanced_margin_weights, margin_weights

    probas = np.array([[0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.8, 0.1, 0.1], [0.2, 0.7, 0.1]])
    # predicted: 0, 0, 0, 1 -> shares 3/4 and 1/4 of C = 3 columns
    expected = margin_weights(probas) / (3 * np.array([0.75, 0.75, 0.75, 0.25]))
    np.testing.assert_allclose(class_balanced_margin_weights(probas), expected)
    balanced = np.array([[0.7, 0.3], [0.4, 0.6]])  # one of each: the margin weights
    np.testing.assert_allclose(class_balanced_margin_weights(balanced), margin_weights(balanced))
