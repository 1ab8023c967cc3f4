"""The experiments' networks and classifier: module shapes, the final nn.Linear, and the seeded
skorch classifier with its label rule."""

import warnings

import numpy as np
import pytest
import torch
from conftest import assert_same_rng_states, global_rng_states
from modAL.models import ActiveLearner
from modAL.uncertainty import entropy_sampling
from sklearn.base import clone
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.dataset import ValidSplit
from torch import nn

from modal_ibal import ibal_sampling
from modal_ibal.experiments._classifier import SeededNeuralNetClassifier, make_classifier
from modal_ibal.experiments._datasets import make_synthetic
from modal_ibal.experiments._networks import MLP, SmallCNN, cifar_resnet18, default_device
from modal_ibal.readers._last_layer import last_layer
from modal_ibal.readers._skorch_net import final_linear


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic((40, 20, 10), random_state=0)


def _mlp_net(**kwargs):
    params = dict(classes=3, module__n_features=2, max_epochs=3, random_state=0, device="cpu")
    params.update(kwargs)
    return make_classifier(MLP, **params)


def _params(net):
    return [p.detach().clone() for p in net.module_.parameters()]


def _same(params_a, params_b):
    return all(torch.equal(a, b) for a, b in zip(params_a, params_b, strict=True))


DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="needs a CUDA device")),
]


# -- modules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "shape", "n_classes", "last"),
    [
        (lambda: MLP(2, 3), (5, 2), 3, "output"),
        (lambda: MLP(4, 2, hidden=(8, 8)), (5, 4), 2, "output"),
        (lambda: MLP(4, 2, hidden=()), (5, 4), 2, "output"),
        (lambda: SmallCNN(), (2, 1, 8, 8), 10, "output"),
        (lambda: SmallCNN(), (2, 64), 10, "output"),
        (lambda: SmallCNN(1, 10, 28), (2, 1, 28, 28), 10, "output"),
        (lambda: SmallCNN(3, 5, 32, channels=(4, 8), hidden=16), (2, 3, 32, 32), 5, "output"),
        (lambda: cifar_resnet18(), (2, 3, 32, 32), 100, "fc"),
        (lambda: cifar_resnet18(7), (2, 3, 32, 32), 7, "fc"),
    ],
    ids=["mlp", "mlp-deep", "linear", "cnn8", "cnn8-flat", "cnn28", "cnn32", "resnet", "resnet7"],
)
def test_module_outputs_logits_from_a_final_linear(build, shape, n_classes, last):
    module = build().eval()
    with torch.no_grad():
        logits = module(torch.zeros(shape))
    assert logits.shape == (shape[0], n_classes)
    name, linear = final_linear(module)
    assert name == last and isinstance(linear, nn.Linear) and linear.out_features == n_classes


def test_mlp_default_is_two_linear_layers_with_relu():
    layers = [m for m in MLP(2, 3).modules() if not isinstance(m, (MLP, nn.Sequential))]
    assert [type(m) for m in layers] == [nn.Linear, nn.ReLU, nn.Linear]
    assert (layers[0].in_features, layers[0].out_features, layers[2].out_features) == (2, 64, 3)


def test_cifar_resnet18_has_the_cifar_stem():
    net = cifar_resnet18()
    conv = net.conv1
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 3), (1, 1), (1, 1))
    assert isinstance(net.maxpool, nn.Identity)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: MLP(0, 3), "The 'n_features' parameter must be a positive int"),
        (lambda: MLP(2, 3, hidden=(8, -1)), "The 'hidden' parameter must be a positive int"),
        (lambda: MLP(2, 3, hidden="64"), "The 'hidden' parameter must be a tuple of ints"),
        (lambda: SmallCNN(image_size=3), "The 'image_size' parameter of SmallCNN must be >= 4"),
        (lambda: SmallCNN(channels=(4,)), "The 'channels' parameter of SmallCNN must hold 2"),
        (lambda: cifar_resnet18(0), "The 'n_classes' parameter must be a positive int"),
    ],
)
def test_module_arguments_are_checked(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_default_device_here():
    assert default_device() == ("cuda" if torch.cuda.is_available() else "cpu")
    assert make_classifier(MLP, classes=3).device == default_device()


# -- make_classifier ----------------------------------------------------------------------------


def test_make_classifier_settings():
    net = make_classifier(MLP, classes=[0, 1, 2], module__n_features=2, weight_decay=0.01)
    assert isinstance(net, SeededNeuralNetClassifier)
    assert net.criterion is torch.nn.CrossEntropyLoss and net.train_split is None
    assert net.optimizer is torch.optim.Adam and net.optimizer__weight_decay == 0.01
    assert net.module__n_classes == 3 and list(net.classes) == [0, 1, 2]
    assert net.iterator_train__shuffle is True and net.verbose == 0


def test_make_classifier_fits_and_predicts(synthetic):
    X, y = synthetic
    net = _mlp_net(max_epochs=20, lr=0.05).fit(X, y)
    proba = net.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert net.score(X, y) > 0.6


def test_missing_classes_keep_a_full_output_layer(synthetic):
    X, y = synthetic
    seen = y < 2
    net = _mlp_net().fit(X[seen], y[seen])
    assert net.predict_proba(X).shape == (len(X), 3)
    layer = last_layer(net)
    np.testing.assert_array_equal(layer.classes_, [0, 1, 2])
    assert layer.outputs(X).logits.shape == (len(X), 3)


def test_same_random_state_trains_identically(synthetic):
    X, y = synthetic
    a, b = _mlp_net(random_state=7).fit(X, y), _mlp_net(random_state=7).fit(X, y)
    c = _mlp_net(random_state=8).fit(X, y)
    assert _same(_params(a), _params(b))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not _same(_params(a), _params(c))
    # a refit with an int random_state repeats itself
    first = _params(a)
    assert _same(first, _params(a.fit(X, y)))


def test_shuffled_minibatches_are_seeded(synthetic):
    X, y = synthetic
    a = _mlp_net(random_state=1, batch_size=8).fit(X, y)
    b = _mlp_net(random_state=1, batch_size=8).fit(X, y)
    assert _same(_params(a), _params(b))
    # the same initial weights without shuffling end elsewhere: shuffling is on and seeded
    c = _mlp_net(random_state=1, batch_size=8, iterator_train__shuffle=False).fit(X, y)
    assert not _same(_params(a), _params(c))


def test_generator_random_state_draws_new_seeds(synthetic):
    X, y = synthetic
    net = _mlp_net(random_state=np.random.default_rng(0))
    first = _params(net.fit(X, y))
    second = _params(net.fit(X, y))
    assert not _same(first, second)
    again = _params(_mlp_net(random_state=np.random.default_rng(0)).fit(X, y))
    assert _same(first, again)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("random_state", [0, None, np.random.default_rng(1)],
                         ids=["int", "None", "generator"])
def test_global_random_states_are_left_alone(synthetic, random_state, device):
    """python, numpy, torch's CPU and every CUDA generator hold their state after each call."""
    X, y = synthetic
    net = _mlp_net(random_state=random_state, device=device, batch_size=16)
    calls = {
        "fit": lambda: net.fit(X, y),
        "partial_fit": lambda: net.partial_fit(X, y),
        "initialize": net.initialize,
        "set_params": lambda: net.set_params(module__hidden=(4,)),
        "predict_proba": lambda: net.predict_proba(X),
        "predict": lambda: net.predict(X),
    }
    for name, call in calls.items():
        before = global_rng_states()
        call()
        try:
            assert_same_rng_states(before, global_rng_states())
        except AssertionError as error:
            raise AssertionError(f"{name} (device {device}): {error}") from None


def test_partial_fit_and_initialize_are_seeded(synthetic):
    X, y = synthetic
    a, b = _mlp_net().initialize(), _mlp_net().initialize()
    assert _same(_params(a), _params(b))
    assert _same(_params(a.partial_fit(X, y)), _params(b.partial_fit(X, y)))


def test_module_instance_starts_from_scratch_at_each_fit(synthetic):
    X, y = synthetic
    instance = MLP(2, 3)
    untouched = [p.detach().clone() for p in instance.parameters()]
    net = make_classifier(instance, classes=3, max_epochs=3, random_state=0, device="cpu")
    first = _params(net.fit(X, y))
    assert _same(first, _params(net.fit(X, y)))
    assert net.module_ is not instance
    assert _same(untouched, list(instance.parameters()))
    by_class = _mlp_net(random_state=0).fit(X, y)
    assert _same(first, _params(by_class))


def test_clone_and_get_params_round_trip(synthetic):
    X, y = synthetic
    net = _mlp_net(random_state=3, module__hidden=(8,))
    params = net.get_params()
    assert params["random_state"] == 3 and params["module__hidden"] == (8,)
    copy = clone(net)
    assert isinstance(copy, SeededNeuralNetClassifier)
    assert copy.get_params()["random_state"] == 3
    net.fit(X, y)
    copy.fit(X, y)
    assert _same(_params(net), _params(copy))
    net.set_params(random_state=4)
    assert net.get_params()["random_state"] == 4


def test_float64_input_and_int32_targets(synthetic):
    X, y = synthetic
    a = _mlp_net().fit(X.astype(np.float64), y.astype(np.int32))
    b = _mlp_net().fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X.astype(np.float64)), b.predict_proba(X), atol=1e-6)


def test_works_in_a_pipeline(synthetic):
    X, y = synthetic
    pipe = make_pipeline(StandardScaler(), _mlp_net(max_epochs=10, lr=0.05))
    pipe.fit(X, y)
    assert pipe.predict_proba(X).shape == (len(X), 3)
    copy = clone(pipe).fit(X, y)
    np.testing.assert_array_equal(copy.predict_proba(X), pipe.predict_proba(X))


def test_active_learner_refits_from_scratch(synthetic):
    X, y = synthetic
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    start, pool = order[:10], order[10:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learner = ActiveLearner(
            estimator=_mlp_net(),
            query_strategy=entropy_sampling,
            X_training=X[start],
            y_training=y[start],
        )
        query, _ = learner.query(X[pool], n_instances=3)
        learner.teach(X[pool[query]], y[pool[query]])
    labelled = np.concatenate([start, pool[query]])
    reference = _mlp_net().fit(X[labelled], y[labelled])
    assert _same(_params(learner.estimator), _params(reference))


def test_small_cnn_classifier_on_images():
    rng = np.random.default_rng(0)
    X = rng.random((24, 1, 8, 8), dtype=np.float32)
    y = np.arange(24) % 4
    net = make_classifier(SmallCNN, classes=4, max_epochs=2, random_state=0, device="cpu")
    assert net.fit(X, y).predict(X).shape == (24,)
    assert net.module_.output.out_features == 4


# -- labels -------------------------------------------------------------------------------------

NAMES = np.array(["ant", "bee", "cat"])


def _plain_net(**kwargs):
    """A seeded net without classes=: skorch's meaning, a label is its output column."""
    params = dict(module__n_features=2, module__n_classes=3, criterion=torch.nn.CrossEntropyLoss,
                  train_split=None, max_epochs=3, random_state=0, device="cpu")
    params.update(kwargs)
    return SeededNeuralNetClassifier(MLP, **params)


@pytest.mark.parametrize(
    ("labels", "classes"),
    [
        (lambda y: y.tolist(), 3),
        (lambda y: y.astype(np.float64), 3),
        (lambda y: y.astype(np.float32).tolist(), 3),
        (lambda y: torch.from_numpy(y.astype(np.float64)), 3),
        (lambda y: NAMES[y], NAMES.tolist()),
        (lambda y: NAMES[y].tolist(), NAMES),
        (lambda y: y + 10, [10, 11, 12]),
        (lambda y: y * 0.5, [0.0, 0.5, 1.0]),
    ],
    ids=["list", "float64", "float32-list", "float-tensor", "str", "str-list", "ints-from-10",
         "halves"],
)
def test_labels_train_as_their_column_indices(synthetic, labels, classes):
    X, y = synthetic
    reference = _mlp_net().fit(X, y)
    net = _mlp_net(classes=classes).fit(X, labels(y))
    assert _same(_params(reference), _params(net))
    names = np.asarray(net.classes_)
    np.testing.assert_array_equal(net.predict(X), names[reference.predict(X)])
    assert np.mean(net.predict(X) == names[y]) == reference.score(X, y)


def test_without_classes_integral_labels_are_columns(synthetic):
    X, y = synthetic
    reference = _plain_net().fit(X, y)
    for labels in (y.tolist(), y.astype(np.float32), torch.from_numpy(y.astype(np.int16))):
        net = _plain_net().fit(X, labels)
        assert _same(_params(reference), _params(net))
        np.testing.assert_array_equal(net.classes_, [0, 1, 2])
        np.testing.assert_array_equal(net.predict(X), reference.predict(X))


@pytest.mark.parametrize(
    ("build", "labels", "match"),
    [
        (_plain_net, lambda y: NAMES[y],
         r"holds labels such as \['ant', 'bee', 'cat'\] that are not output column indices\. "
         r"Without classes=, label c trains output column c .*pass classes=\[\.\.\.\]"),
        (_plain_net, lambda y: y + 0.5, r"labels such as \['0\.5', '1\.5', '2\.5'\] that are not"),
        (_plain_net, lambda y: np.full(len(y), np.nan), r"labels such as \['nan'\] that are not"),
        (_plain_net, lambda y: y + 1, r"holds the label 3, but the module has 3 outputs: without "),
        (_plain_net, lambda y: y - 1, r"holds the label -1, but labels are never negative"),
        (_mlp_net, lambda y: NAMES[y],
         r"labels \['ant', 'bee', 'cat'\] that are not among the model's classes \[0, 1, 2\]\. "
         r"Labels must be among .* pass classes=\[\.\.\.\] listing every class"),
        (lambda: _mlp_net(classes=NAMES), lambda y: np.where(y == 2, "cow", NAMES[y]),
         r"labels \['cow'\] that are not among the model's classes \['ant', 'bee', 'cat'\]"),
        (lambda: _mlp_net(classes=NAMES), lambda y: y, r"labels \['0', '1', '2'\] that are not"),
        (_mlp_net, lambda y: y[:, None],
         r"The 'y' parameter must be a 1-D array of class labels, one per sample\. Got shape "
         r"\(70, 1\) instead\."),
        (lambda: _plain_net(classes=[0, 1]), lambda y: y,
         r"final nn\.Linear has 3 outputs, but the net's 'classes' parameter names 2 classes"),
    ],
    ids=["str", "halves", "nan", "too-large", "negative", "str-for-ints", "unknown-str",
         "ints-for-str", "column-vector", "classes-vs-outputs"],
)
def test_labels_that_cannot_train_are_reported(synthetic, build, labels, match):
    X, y = synthetic
    with pytest.raises(ValueError, match=match):
        build().fit(X, labels(y))


def test_validation_accuracy_is_scored_on_labels(synthetic):
    X, y = synthetic
    split = dict(train_split=ValidSplit(5), max_epochs=4)
    by_index = _mlp_net(**split).fit(X, y)
    by_name = _mlp_net(classes=NAMES, **split).fit(X, NAMES[y])
    np.testing.assert_array_equal(by_name.history[:, "valid_acc"],
                                  by_index.history[:, "valid_acc"])
    _, valid = next(KFold(5).split(X))
    assert by_name.history[-1, "valid_acc"] == by_name.score(X[valid], NAMES[y[valid]])


def test_string_labels_work_with_ibal_and_modal(synthetic):
    X, y = synthetic
    labelled = np.arange(0, len(X), 7)
    pool = np.setdiff1d(np.arange(len(X)), labelled)
    by_index = _mlp_net().fit(X[labelled], y[labelled])
    by_name = _mlp_net(classes=NAMES).fit(X[labelled], NAMES[y[labelled]])
    expected = ibal_sampling(by_index, X[pool], 5, X_labelled=X[labelled], y_labelled=y[labelled])
    got = ibal_sampling(by_name, X[pool], 5, X_labelled=X[labelled],
                        y_labelled=NAMES[y[labelled]])
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)
    learner = ActiveLearner(estimator=_mlp_net(classes=NAMES), query_strategy=ibal_sampling,
                            X_training=X[labelled], y_training=NAMES[y[labelled]])
    query, _ = learner.query(X[pool], n_instances=5)
    np.testing.assert_array_equal(query, expected[0])
    learner.teach(X[pool[query]], NAMES[y[pool[query]]])
    assert set(learner.predict(X)) <= set(NAMES)
    assert 0 < learner.score(X, NAMES[y]) <= 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(classes=[2, 1, 0]), ValueError, r"must list every class once, in sorted order"),
        (dict(classes=["a", "b", "b"]), ValueError, r"must list every class once.*Got \['a'"),
        (dict(classes=[[0, 1]]), ValueError, "The 'classes' parameter of make_classifier"),
        (dict(classes=[0]), ValueError, r"at least 2 labels"),
        (dict(classes=[0.0, np.nan]), ValueError, "The 'classes' parameter of make_classifier"),
        (dict(classes=[0, None]), ValueError, "The 'classes' parameter of make_classifier"),
        (dict(classes=1), ValueError, r"\(C >= 2\) for the labels 0, 1, \.\.\., C - 1\. Got 1 "),
        (dict(classes=3, module__n_classes=4), ValueError, r"'module__n_classes' parameter \(4\)"),
        (dict(classes=3, max_epochs=0), ValueError, "The 'max_epochs' parameter must be"),
        (dict(classes=3, weight_decay=-1.0), ValueError, "The 'weight_decay' parameter must be"),
    ],
)
def test_make_classifier_checks_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_classifier(MLP, **kwargs)


def test_instance_with_wrong_output_size():
    with pytest.raises(ValueError, match=r"final nn\.Linear 'output' has 5 outputs, but the"):
        make_classifier(MLP(2, 5), classes=3)


@pytest.mark.parametrize(
    ("random_state", "error", "match"),
    [
        (-1, ValueError, r"an int in \[0, 2\*\*63 - 1\]\. Got -1 instead"),
        ("seed", TypeError, "must be None, an int, a numpy.random.Generator or a numpy"),
    ],
)
def test_bad_random_state_is_reported_at_fit(synthetic, random_state, error, match):
    X, y = synthetic
    net = _mlp_net(random_state=random_state)
    with pytest.raises(error, match=match):
        net.fit(X, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_is_seeded(synthetic):
    X, y = synthetic
    a = _mlp_net(device="cuda").fit(X, y)
    b = _mlp_net(device="cuda").fit(X, y)
    assert _same(_params(a), _params(b))
