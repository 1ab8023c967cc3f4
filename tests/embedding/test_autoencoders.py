"""ConvAutoencoder and MLPAutoencoder: training, the latent space, and the transformer contract."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from conftest import assert_same_rng_states, global_rng_states
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from modal_ibal import ConvAutoencoder, MLPAutoencoder

N_TRAIN = 600


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Tiny convolutions gain nothing from threads and lose much on a shared, busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digit_images(digits):
    X, y = digits
    return X[:N_TRAIN].reshape(-1, 1, 8, 8), y[:N_TRAIN]


@pytest.fixture(scope="module", params=["conv", "mlp"])
def trained(request, digits):
    """(autoencoder fitted on 600 digits, its inputs, labels): images for conv, vectors for MLP."""
    X, y = digits
    X = X[:N_TRAIN].reshape(-1, 1, 8, 8) if request.param == "conv" else X[:N_TRAIN]
    model = (ConvAutoencoder if request.param == "conv" else MLPAutoencoder)(
        latent_dim=16, max_epochs=12, batch_size=64, lr=3e-3, random_state=0)
    return model.fit(X), X, y[:N_TRAIN]


def test_reconstruction_loss_falls(trained):
    model, _, _ = trained
    assert model.loss_curve_.shape == (12,)
    assert model.loss_curve_[-1] < 0.6 * model.loss_curve_[0]
    assert np.all(np.diff(model.loss_curve_[:4]) < 0)  # the first epochs each improve


def test_codes_separate_digit_classes_with_a_1nn_probe(trained):
    """Chance is 10%; 1-NN on the 16-dim codes of 300 training digits is far above it."""
    model, X, y = trained
    Z = model.transform(X)
    Z_train, Z_test, y_train, y_test = train_test_split(Z, y, test_size=0.5, random_state=0,
                                                        stratify=y)
    accuracy = KNeighborsClassifier(1).fit(Z_train, y_train).score(Z_test, y_test)
    assert accuracy > 0.6


def test_transform_gives_float32_codes_and_accepts_float64(trained):
    model, X, _ = trained
    codes = model.transform(X[:50])
    assert codes.shape == (50, 16) and codes.dtype == np.float32
    np.testing.assert_array_equal(model.transform(X[:50].astype(np.float64)), codes)
    np.testing.assert_array_equal(model.transform(torch.from_numpy(X[:50])), codes)
    assert model.n_features_in_ == 64
    assert list(model.get_feature_names_out())[:2] == [f"{type(model).__name__.lower()}{i}"
                                                      for i in range(2)]


def test_pickle_round_trip_gives_identical_codes(trained):
    model, X, _ = trained
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.transform(X[:40]), model.transform(X[:40]))


def test_clone_copies_parameters_and_drops_the_fit(trained):
    model, X, _ = trained
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        copy.transform(X[:5])


@pytest.mark.parametrize("cls", [ConvAutoencoder, MLPAutoencoder])
def test_same_random_state_same_codes(cls, digits):
    X = digits[0][:120]
    X = X.reshape(-1, 1, 8, 8) if cls is ConvAutoencoder else X
    first = cls(latent_dim=4, max_epochs=2, random_state=3).fit(X).transform(X)
    second = cls(latent_dim=4, max_epochs=2, random_state=3).fit(X).transform(X)
    other = cls(latent_dim=4, max_epochs=2, random_state=4).fit(X).transform(X)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                          reason="needs a CUDA device"))],
)
@pytest.mark.parametrize("random_state", [3, None, np.random.default_rng(0)],
                         ids=["int", "None", "generator"])
@pytest.mark.parametrize("cls", [ConvAutoencoder, MLPAutoencoder])
def test_global_random_states_are_left_alone(cls, random_state, device, digits):
    """python, numpy, torch's CPU and every CUDA generator hold their state after fit, transform."""
    X = digits[0][:120]
    X = X.reshape(-1, 1, 8, 8) if cls is ConvAutoencoder else X
    model = cls(latent_dim=4, max_epochs=2, batch_size=32, device=device,
                random_state=random_state)
    for name, call in {"fit": lambda: model.fit(X), "transform": lambda: model.transform(X)}.items():
        before = global_rng_states()
        call()
        try:
            assert_same_rng_states(before, global_rng_states())
        except AssertionError as error:
            raise AssertionError(f"{name} (device {device}): {error}") from None


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (2, 5, 7), (1, 1, 1)])
def test_conv_any_small_image_size(shape):
    rng = np.random.default_rng(0)
    X = rng.random((20, *shape), dtype=np.float32)
    model = ConvAutoencoder(latent_dim=5, max_epochs=1, channels=(4, 4), random_state=0).fit(X)
    assert model.input_shape_ == shape
    assert model.transform(X).shape == (20, 5)
    with torch.no_grad():
        assert model.net_.module_(torch.from_numpy(X)).shape == (20, *shape)


def test_conv_reads_flat_rows_with_image_shape(digit_images):
    X, _ = digit_images
    flat = ConvAutoencoder(latent_dim=4, max_epochs=1, image_shape=(1, 8, 8), random_state=0)
    images = ConvAutoencoder(latent_dim=4, max_epochs=1, random_state=0)
    np.testing.assert_array_equal(flat.fit(X.reshape(len(X), -1)).transform(X.reshape(len(X), -1)),
                                  images.fit(X).transform(X))
    np.testing.assert_array_equal(flat.transform(X), images.transform(X))


def test_early_stopping_on_the_training_loss(digits):
    X = digits[0][:100]
    model = MLPAutoencoder(max_epochs=50, lr=1e-12, patience=2, random_state=0).fit(X)
    assert len(model.loss_curve_) < 50


def test_verbose_prints_the_epoch_log(capsys, digits):
    MLPAutoencoder(max_epochs=2, verbose=1, random_state=0).fit(digits[0][:50])
    assert "train_loss" in capsys.readouterr().out
    MLPAutoencoder(max_epochs=2, verbose=0, random_state=0).fit(digits[0][:50])
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("model", "X", "match"),
    [
        (ConvAutoencoder(), np.zeros((4, 8, 8)), r"images of shape \(n_samples, channels"),
        (ConvAutoencoder(), np.zeros((4, 64)), r"image_shape=\(channels, height, width\) set"),
        (ConvAutoencoder(image_shape=(1, 8, 8)), np.zeros((4, 63)), "X has 63 features"),
        (ConvAutoencoder(image_shape=(1, 8, 8)), np.zeros((4, 1, 4, 4)), r"its image_shape"),
        (ConvAutoencoder(), np.zeros((4, 1, 8, 0)), "at least one channel, row and column"),
        (ConvAutoencoder(), np.full((4, 1, 8, 8), np.nan), "Input X contains NaN"),
        (MLPAutoencoder(), np.full((4, 3), np.nan), "Input X contains NaN"),
        (MLPAutoencoder(), np.zeros(4), "Expected 2D array"),
        (MLPAutoencoder(latent_dim=0), np.zeros((4, 3)), "'latent_dim' parameter of "
                                                         "MLPAutoencoder must be a positive int"),
        (MLPAutoencoder(lr=-1.0), np.zeros((4, 3)), "'lr' parameter .* positive number"),
        (MLPAutoencoder(hidden_units=()), np.zeros((4, 3)), "'hidden_units' parameter"),
        (ConvAutoencoder(channels=(8,)), np.zeros((4, 1, 8, 8)), "tuple of 2 positive ints"),
        (ConvAutoencoder(image_shape=(8, 8)), np.zeros((4, 64)), "tuple of 3 positive ints"),
    ],
)
def test_invalid_input_raises(model, X, match):
    with pytest.raises(ValueError, match=match):
        model.set_params(max_epochs=1).fit(X)


def test_transform_checks_the_image_shape_seen_in_fit(digit_images):
    model = ConvAutoencoder(latent_dim=4, max_epochs=1, random_state=0).fit(digit_images[0])
    with pytest.raises(ValueError, match=r"images of shape \(1, 8, 8\), as in fit"):
        model.transform(np.zeros((2, 1, 7, 7), dtype=np.float32))


def _as_row_images(X):
    """(n, f) rows as (n, 1, 1, f) images, so that the 2-D estimator checks reach ConvAutoencoder."""
    X = np.asarray(X)
    return X.reshape(X.shape[0], 1, 1, -1) if X.ndim == 2 else X


_SMALL = dict(latent_dim=3, max_epochs=2, random_state=0)

# ConvAutoencoder takes images: the checks that feed it 2-D arrays of any width fail at
# input validation by design. They run below against the reshaping pipeline instead.
_CONV_2D_CHECKS = [
    "check_fit_score_takes_y", "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters", "check_estimators_fit_returns_self",
    "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_dtype_object",
    "check_pipeline_consistency", "check_estimators_nan_inf", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_transformer_data_not_an_array",
    "check_transformer_general", "check_transformer_preserve_dtypes",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance",
    "check_fit2d_1sample", "check_fit2d_1feature", "check_dict_unchanged",
    "check_fit_idempotent", "check_fit_check_is_fitted", "check_n_features_in",
    "check_fit2d_predict1d",
]
# What the reshaping pipeline itself cannot pass (each covered by a direct check or test):
_PIPELINE_CHECKS = {
    "check_estimators_overwrite_params": "a Pipeline's 'steps' hold the fitted steps; "
                                         "ConvAutoencoder passes check_no_attributes_set_in_init",
    "check_dont_overwrite_parameters": "the same: 'steps' changes when the steps are fitted",
    "check_n_features_in_after_fitting": "FunctionTransformer does not record n_features_in_; "
                                         "test_transform_checks_the_image_shape_seen_in_fit",
    "check_estimator_sparse_tag": "FunctionTransformer turns sparse input into an object array; "
                                  "ConvAutoencoder passes the sparse checks directly",
    "check_estimator_sparse_array": "as check_estimator_sparse_tag",
    "check_estimator_sparse_matrix": "as check_estimator_sparse_tag",
    "check_estimators_empty_data_messages": "(n, 0) reshapes to (n, 1, 1, 0) images; "
                                            "ConvAutoencoder's own message is pinned above",
}


def _expected_failures(estimator):
    if isinstance(estimator, ConvAutoencoder):
        return dict.fromkeys(_CONV_2D_CHECKS, "ConvAutoencoder takes 4-D images")
    if isinstance(estimator, MLPAutoencoder):
        return {}
    return _PIPELINE_CHECKS


@parametrize_with_checks(
    [
        MLPAutoencoder(hidden_units=(8,), **_SMALL),
        ConvAutoencoder(channels=(2, 2), **_SMALL),
        make_pipeline(FunctionTransformer(_as_row_images), ConvAutoencoder(channels=(2, 2),
                                                                           **_SMALL)),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
