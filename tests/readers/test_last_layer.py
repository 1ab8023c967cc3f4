"""Reading the final linear layer: hooks on skorch nets, exact sklearn models, pipelines."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import TinyCNN, TinyMLP, make_net
from scipy.special import softmax
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from modal_ibal.readers._last_layer import last_layer
from modal_ibal.readers._losses import AutogradLoss, OneVsRestLogistic, SoftmaxCrossEntropy


def test_skorch_hook_reads_features_and_logits(fitted_net, split):
    _, _, X_pool = split
    out = last_layer(fitted_net, batch_size=37).outputs(X_pool)
    module = fitted_net.module_
    with torch.no_grad():
        features = module.body(torch.as_tensor(X_pool)).numpy()
        logits = module.output(torch.as_tensor(features)).numpy()
    np.testing.assert_allclose(out.features, features, rtol=1e-6)
    np.testing.assert_allclose(out.logits, logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.probas, fitted_net.predict_proba(X_pool), rtol=1e-4, atol=1e-6)


def test_extraction_leaves_the_module_untouched(fitted_net, split):
    _, _, X_pool = split
    module = fitted_net.module_
    module.train()
    module.body.eval()  # a mixed mode must survive, not just the top-level flag
    for p in module.parameters():
        p.grad = torch.full_like(p, 0.5)
    state = {k: v.clone() for k, v in module.state_dict().items()}
    grads = [p.grad.clone() for p in module.parameters()]
    modes = {name: m.training for name, m in module.named_modules()}
    user_hook = module.output.register_forward_hook(lambda *args: None)
    hooks = {name: dict(m._forward_hooks) for name, m in module.named_modules()}
    pool_before = X_pool.copy()

    last_layer(fitted_net).outputs(X_pool)

    assert {name: m.training for name, m in module.named_modules()} == modes
    assert {name: dict(m._forward_hooks) for name, m in module.named_modules()} == hooks
    for (key, value), p, g in zip(module.state_dict().items(), module.parameters(), grads,
                                  strict=False):
        assert torch.equal(value, state[key])
        assert torch.equal(p.grad, g)
    np.testing.assert_array_equal(X_pool, pool_before)
    user_hook.remove()


def test_hook_is_removed_when_the_forward_pass_fails(fitted_net):
    module = fitted_net.module_
    module.train()
    with pytest.raises(ValueError, match="could not process the samples of shape"):
        last_layer(fitted_net).outputs(np.zeros((3, 7), dtype=np.float32))
    assert not module.output._forward_hooks
    assert module.training


def test_float64_and_tensor_inputs_give_the_float32_result(fitted_net, split):
    _, _, X_pool = split
    reader = last_layer(fitted_net)
    reference = reader.outputs(X_pool).logits
    np.testing.assert_allclose(reader.outputs(X_pool.astype(np.float64)).logits, reference)
    np.testing.assert_allclose(reader.outputs(torch.as_tensor(X_pool)).logits, reference)


def test_non_array_input_takes_skorch_path(fitted_net, split):
    from skorch.dataset import Dataset

    _, _, X_pool = split
    reader = last_layer(fitted_net)
    via_skorch = reader.outputs(Dataset(X_pool[:50], None)).logits
    np.testing.assert_allclose(via_skorch, reader.outputs(X_pool[:50]).logits, rtol=1e-5)


def test_image_shaped_inputs_with_a_cnn(digits):
    X, y = digits
    images = X[:80].reshape(-1, 1, 8, 8)
    net = make_net(TinyCNN, max_epochs=2).fit(images, y[:80])
    out = last_layer(net).outputs(images)
    assert out.features.shape == (80, 64) and out.logits.shape == (80, 10)


def test_nll_loss_on_softmax_outputs_is_cross_entropy(split):
    X_labelled, y_labelled, X_pool = split

    class SoftmaxMLP(TinyMLP):
        def forward(self, X):
            return torch.softmax(super().forward(X), dim=-1)

    net = make_net(SoftmaxMLP, criterion=nn.NLLLoss, max_epochs=3).fit(X_labelled, y_labelled)
    reader = last_layer(net)
    assert isinstance(reader.loss, SoftmaxCrossEntropy)
    np.testing.assert_allclose(reader.outputs(X_pool).probas, net.predict_proba(X_pool),
                               rtol=1e-4, atol=1e-6)


def test_nll_loss_on_raw_logits_is_refused(split):
    X_labelled, y_labelled, X_pool = split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = make_net(criterion=nn.NLLLoss, max_epochs=1).fit(X_labelled, y_labelled)
    with pytest.raises(ValueError, match=r"criterion=torch\.nn\.CrossEntropyLoss"):
        last_layer(net).outputs(X_pool)


def test_other_criteria_use_autograd(split):
    X_labelled, y_labelled, _ = split
    net = make_net(criterion=nn.MultiMarginLoss, max_epochs=1).fit(X_labelled, y_labelled)
    assert isinstance(last_layer(net).loss, AutogradLoss)


def test_weight_decay_sets_lambda(split):
    X_labelled, y_labelled, _ = split
    net = make_net(max_epochs=1, optimizer__weight_decay=0.02).fit(X_labelled, y_labelled)
    assert last_layer(net).reg_lambda(40) == pytest.approx(0.01)
    plain = make_net(max_epochs=1).fit(X_labelled, y_labelled)
    assert last_layer(plain).reg_lambda(40) is None  # none of its own: the scoring's default


def test_unfitted_net_raises_not_fitted():
    with pytest.raises(NotFittedError):
        last_layer(make_net())


def test_module_without_linear_is_refused(split):
    X_labelled, y_labelled, _ = split

    class ConvOnly(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(1, 10, 64)

        def forward(self, X):
            return self.conv(X.unsqueeze(1)).squeeze(-1)

    net = make_net(ConvOnly, max_epochs=1).fit(X_labelled, y_labelled)
    with pytest.raises(TypeError, match=r"has no nn\.Linear layer"):
        last_layer(net)


def test_layer_argument(fitted_net):
    assert last_layer(fitted_net, layer="output").layer_name == "output"
    with pytest.raises(ValueError, match=r"must name an nn\.Linear"):
        last_layer(fitted_net, layer="body")


def test_integer_labels_missing_classes_read_every_output_column(split):
    # skorch: an integer label c is output column c (the label checks: test_just_works.py)
    X_labelled, y_labelled, _ = split
    net = make_net(max_epochs=1, classes=None).fit(X_labelled[y_labelled < 5],
                                                   y_labelled[y_labelled < 5])
    np.testing.assert_array_equal(last_layer(net).classes_, np.arange(10))


@pytest.mark.parametrize("n_classes", [2, 4])
def test_logistic_regression_is_exact(digits, n_classes):
    X, y = digits
    mask = y < n_classes
    model = LogisticRegression(max_iter=300).fit(X[mask][:100], y[mask][:100])
    reader = last_layer(model)
    out = reader.outputs(X[mask][100:150])
    np.testing.assert_allclose(out.probas, model.predict_proba(X[mask][100:150]), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(out.features, X[mask][100:150])
    # the intercept is not penalised (not folded into f); a binary model's softmax weights
    # (-w/2, w/2) carry half of ||w||^2, so its lambda doubles (Eq. 1: test_just_works.py)
    assert not reader.has_bias
    binary_factor = 2 if n_classes == 2 else 1
    assert reader.reg_lambda(100) == pytest.approx(binary_factor / (2 * model.C * 100))


def test_sgd_log_loss_is_one_vs_rest(digits):
    X, y = digits
    model = SGDClassifier(loss="log_loss", random_state=0).fit(X[:200], y[:200])
    reader = last_layer(model)
    assert isinstance(reader.loss, OneVsRestLogistic)
    np.testing.assert_allclose(reader.outputs(X[200:230]).probas, model.predict_proba(X[200:230]),
                               rtol=1e-5, atol=1e-7)
    with pytest.raises(TypeError, match="loss='log_loss'"):
        last_layer(SGDClassifier(loss="hinge").fit(X[:200], y[:200]))


@pytest.mark.parametrize("n_classes", [2, 10])
def test_mlp_classifier_last_hidden_layer(digits, n_classes):
    X, y = digits
    mask = y < n_classes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier(hidden_layer_sizes=(12, 7), max_iter=30, random_state=0)
        model.fit(X[mask][:200], y[mask][:200])
    out = last_layer(model).outputs(X[mask][200:240])
    assert out.features.shape == (40, 7)
    np.testing.assert_allclose(out.probas, model.predict_proba(X[mask][200:240]), rtol=1e-5, atol=1e-7)


def test_pipeline_transforms_before_the_final_step(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X[:200], y[:200])
    out = last_layer(pipe).outputs(X[200:220])
    np.testing.assert_allclose(out.features, pipe[0].transform(X[200:220]))
    np.testing.assert_allclose(out.probas, pipe.predict_proba(X[200:220]), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(softmax(out.logits, axis=1), out.probas)


def test_unsupported_estimator_is_refused(digits):
    from sklearn.tree import DecisionTreeClassifier

    X, y = digits
    with pytest.raises(TypeError, match="Got DecisionTreeClassifier instead"):
        last_layer(DecisionTreeClassifier().fit(X[:50], y[:50]))


def test_sklearn_models_need_2d_input(digits):
    X, y = digits
    model = LogisticRegression(max_iter=200).fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="must be 2-D"):
        last_layer(model).outputs(X[:10].reshape(10, 1, 8, 8))


def test_a_one_step_pipeline_is_read_as_its_model(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = LogisticRegression(max_iter=50).fit(X[:100], y[:100])
        piped = make_pipeline(LogisticRegression(max_iter=50)).fit(X[:100], y[:100])
    np.testing.assert_allclose(last_layer(piped).outputs(X[100:110]).logits,
                               last_layer(alone).outputs(X[100:110]).logits)


@pytest.mark.parametrize("model", ["logistic", "mlp", "pipeline", "one-step-pipeline"])
def test_sklearn_readers_refuse_another_number_of_features(model, digits):
    """Before: numpy's 'matmul: Input operand 1 has a mismatch in its core dimension 0'."""
    X, y = digits
    estimator = {
        "logistic": LogisticRegression(max_iter=50),
        "mlp": MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0),
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression(max_iter=50)),
        "one-step-pipeline": make_pipeline(LogisticRegression(max_iter=50)),
    }[model]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X[:100, :16], y[:100])
    with pytest.raises(ValueError, match=(
            r"^The 'X' parameter has 10 features, but the model was fitted on 16\.$")):
        last_layer(estimator).outputs(X[:5, :10])


def test_a_multi_label_mlp_is_refused():
    """A logistic output per label is no softmax: two labels used to pass as a binary model."""
    from modal_ibal.readers._scikit_learn import MLPClassifierLayer

    X = np.random.default_rng(0).normal(size=(40, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0).fit(
            X, (X[:, :2] > 0).astype(int))
    with pytest.raises(TypeError, match=(
            r"^The 'classifier' parameter must be a single-output classifier .* Got "
            r"MLPClassifier, fitted on 2 outputs")):
        last_layer(model)
    with pytest.raises(TypeError, match=(
            r"MLPClassifier must be a single-label classifier .* Got out_activation_='logistic' "
            r"with 2 outputs instead")):
        MLPClassifierLayer(model)
