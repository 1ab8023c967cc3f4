"""seeded_torch_rng: seeds only the generators it forks, so no global generator changes."""

from __future__ import annotations

import pytest
import torch

from modal_ibal import ConvAutoencoder, MLPAutoencoder
from modal_ibal._utils.randomness import seeded_torch_rng
from modal_ibal.experiments._classifier import make_classifier
from modal_ibal.experiments._datasets import make_synthetic
from modal_ibal.experiments._networks import MLP

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_cpu_draws_are_those_of_the_seed_and_the_state_comes_back():
    before = torch.get_rng_state()
    with seeded_torch_rng(5):
        drawn = torch.rand(4)
    assert torch.equal(drawn, torch.rand(4, generator=torch.Generator().manual_seed(5)))
    assert torch.equal(before, torch.get_rng_state())


def test_an_exception_inside_restores_the_state():
    before = torch.get_rng_state()
    with pytest.raises(RuntimeError, match="inside"), seeded_torch_rng(5):
        torch.rand(3)
        raise RuntimeError("inside")
    assert torch.equal(before, torch.get_rng_state())


@pytest.fixture
def no_global_seeding(monkeypatch):
    """Make the seeders that reach every CUDA device fail: training must seed only its forks."""

    def refuse(*args, **kwargs):
        raise AssertionError("seeded every CUDA generator, not only the forked ones")

    for owner, name in [(torch, "manual_seed"), (torch.random, "manual_seed"),
                        (torch.cuda, "manual_seed_all")]:
        monkeypatch.setattr(owner, name, refuse)


@pytest.mark.parametrize("build", [
    lambda: MLPAutoencoder(latent_dim=2, max_epochs=1, random_state=0, device="cpu"),
    lambda: ConvAutoencoder(latent_dim=2, max_epochs=1, channels=(2, 2), random_state=0,
                            image_shape=(1, 1, 2), device="cpu"),
    lambda: make_classifier(MLP, classes=3, module__n_features=2, max_epochs=1, random_state=0,
                            device="cpu"),
], ids=["mlp-autoencoder", "conv-autoencoder", "make_classifier"])
def test_training_seeds_only_the_forked_generators(no_global_seeding, build):
    X, y = make_synthetic((10, 6, 4), random_state=0)
    model = build()
    model.fit(X, y)


@needs_cuda
def test_cuda_draws_are_seeded_and_every_device_comes_back():
    before = torch.cuda.get_rng_state_all()
    with seeded_torch_rng(5, "cuda"):
        drawn = torch.rand(4, device="cuda")
    reference = torch.Generator(device="cuda").manual_seed(5)
    assert torch.equal(drawn, torch.rand(4, device="cuda", generator=reference))
    after = torch.cuda.get_rng_state_all()
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


@needs_cuda
def test_cpu_training_leaves_every_cuda_generator_alone():
    before = torch.cuda.get_rng_state_all()
    with seeded_torch_rng(5, "cpu"):
        torch.rand(3)
    after = torch.cuda.get_rng_state_all()
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
