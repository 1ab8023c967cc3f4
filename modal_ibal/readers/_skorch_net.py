"""The reader of a skorch net: a forward hook on the final nn.Linear.

A forward hook on the final ``nn.Linear`` records its input and
output while the module runs over the pool in batches, in eval mode, without gradients; the
hook is removed and every submodule's mode restored afterwards.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from .._utils.blocks import fixed_blocks, pad_rows
from .._utils.locks import object_lock
from .._utils.randomness import preserved_global_random_state
from .._utils.validation import is_tensor
from ._labels import output_classes
from ._losses import AutogradLoss, SoftmaxCrossEntropy
from ._outputs import LastLayer

__all__ = ["SkorchLayer", "final_linear", "held_module", "module_input", "preserved_train_modes"]


@contextlib.contextmanager
def preserved_train_modes(module):
    """Restore the train/eval mode of ``module`` and of every submodule on exit.

    ``module.train(mode)`` would overwrite a mixed state (say, a frozen submodule
    kept in eval mode inside a training model); each flag is restored as it was.
    """
    modes = {m: m.training for m in module.modules()}
    try:
        yield module
    finally:
        for m, training in modes.items():
            m.training = training


@contextlib.contextmanager
def held_module(module):
    """``module`` for this thread alone: its lock held, every train/eval flag restored on exit.

    A module's forward hooks and train/eval flags are shared by every thread
    (:func:`modal_ibal._utils.locks.object_lock`); whoever runs it in a query holds it so.
    """
    with object_lock(module), preserved_train_modes(module):
        yield module


def final_linear(module, layer: str | None = None):
    """Find the final ``nn.Linear`` of a torch module.

    Parameters
    ----------
    module : torch.nn.Module
    layer : str, optional
        The ``named_modules()`` name of the layer; default the last ``nn.Linear``.

    Returns
    -------
    (str, torch.nn.Linear)
    """
    import torch

    named = dict(module.named_modules())
    if layer is not None:
        if layer not in named or not isinstance(named[layer], torch.nn.Linear):
            linears = [n for n, m in named.items() if isinstance(m, torch.nn.Linear)]
            raise ValueError(
                f"The 'layer' parameter must name an nn.Linear of the module. Got {layer!r}; "
                f"its nn.Linear layers are {linears}."
            )
        return layer, named[layer]
    linears = [(n, m) for n, m in named.items() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise TypeError(
            f"The module {type(module).__name__} has no nn.Linear layer. IBAL needs a classifier "
            "whose logits come from a final nn.Linear (the representer theorem's linear layer)."
        )
    return linears[-1]


class SkorchLayer(LastLayer):
    """A skorch net: forward hook on the final nn.Linear."""

    def __init__(self, net, *, layer: str | None, batch_size: int):
        import torch

        net.check_is_fitted()
        self.net, self.batch_size = net, int(batch_size)
        self.row_block = self.batch_size  # the forward batches start at multiples of it
        self.module = net.module_
        self.layer_name, self.linear = final_linear(self.module, layer)
        self.classes_ = output_classes(net, self.layer_name, self.linear.out_features)
        self.has_bias = self.linear.bias is not None
        criterion = net.criterion_
        self._outputs_are_probabilities = isinstance(criterion, torch.nn.NLLLoss)
        self.loss = _loss_for_criterion(criterion)

    def reg_lambda(self, n_labelled: int) -> float | None:
        # torch's weight_decay adds wd * W to the gradient of the mean loss: lambda = wd / 2
        optimizer = getattr(self.net, "optimizer_", None)
        weight = self.linear.weight
        for group in getattr(optimizer, "param_groups", []):
            if any(p is weight for p in group["params"]) and group.get("weight_decay", 0) > 0:
                return group["weight_decay"] / 2.0
        return None

    def _features_and_logits(self, X):
        import torch

        known = isinstance(X, np.ndarray) or is_tensor(X)
        record = _Recorder(len(X) if known else None)
        with held_module(self.module):
            handle = self.linear.register_forward_hook(record)
            try:
                with torch.no_grad():
                    self.module.eval()
                    for out in self._forward_batches(X, record):
                        out = out[0] if isinstance(out, tuple) else out
                        if self._outputs_are_probabilities:
                            _check_probabilities(out)
            except RuntimeError as error:
                shape = tuple(X.shape) if hasattr(X, "shape") else type(X).__name__
                raise ValueError(
                    f"The module could not process the samples of shape {shape}: {error}"
                ) from error
            finally:
                handle.remove()
        if record.n_rows == 0 or record.input_ndim != 2:
            raise ValueError(
                f"The final nn.Linear '{self.layer_name}' must receive 2-D input "
                "(n_samples, n_features)."
            )
        return record.result()

    def _forward_batches(self, X, record: _Recorder):
        """Fast path for arrays and tensors; skorch's own iterator for the rest.

        A short batch is padded (:func:`modal_ibal._utils.blocks.pad_rows`), so that a
        row's outputs do not depend on how many rows are read with it.
        """
        if not (isinstance(X, np.ndarray) or is_tensor(X)):
            with preserved_global_random_state():  # skorch's DataLoader draws a seed
                yield from self.net.forward_iter(X, training=False)
            return
        for rows in fixed_blocks(len(X), self.row_block):
            batch = module_input(X[rows], self.module)
            record.keep = batch.shape[0]  # the padding rows are not recorded
            yield self.module(pad_rows(batch))


def module_input(batch, module):
    """A batch of samples as the tensor ``module`` takes, on its device.

    Floating-point samples take the dtype of the module's parameters (float64
    arrays become float32 for a float32 net); integer and boolean samples are cast
    the same way, unless the module holds an ``nn.Embedding`` or ``nn.EmbeddingBag``,
    whose inputs are indices. A read-only numpy array is copied first (torch
    cannot share its memory).

    Parameters
    ----------
    batch : ndarray or torch.Tensor of shape (b, ...)
    module : torch.nn.Module

    Returns
    -------
    torch.Tensor of shape (b, ...)
    """
    import torch

    if isinstance(batch, np.ndarray) and not batch.flags.writeable:
        batch = np.array(batch)
    batch = torch.as_tensor(batch)
    parameter = next(module.parameters())
    takes_indices = any(isinstance(m, (torch.nn.Embedding, torch.nn.EmbeddingBag))
                        for m in module.modules())
    if batch.is_floating_point() or not takes_indices:
        return batch.to(device=parameter.device, dtype=parameter.dtype)
    return batch.to(device=parameter.device)


class _Recorder:
    """Forward hook that keeps the final layer's input and output, batch by batch, as float32.

    Only the forward passes of the thread that made it are kept: a module is
    shared by every thread, and another thread may run it (skorch's own
    ``predict_proba``) while the hook is in place.

    When the number of samples is known, each batch is copied into arrays allocated
    once, so a batch's tensors are freed as soon as it is recorded: peak memory is
    the result plus one batch, not twice the result (a list of batches, then their
    concatenation). Otherwise, or if the layer runs more often than expected, the
    batches are kept and concatenated at the end.
    """

    def __init__(self, n_samples: int | None):
        self.n_samples = n_samples
        self.thread = threading.get_ident()  # another thread's forward pass is not ours
        self.keep: int | None = None  # rows of the next batch to keep (the rest: padding)
        self.n_rows = 0
        self.input_ndim = 0
        self.arrays: tuple[np.ndarray, np.ndarray] | None = None
        self.batches: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, _module, inputs, output) -> None:
        if threading.get_ident() != self.thread:
            return
        features = inputs[0].detach()[:self.keep].float().cpu().numpy()  # [b, d]
        logits = output.detach()[:self.keep].float().cpu().numpy()  # [b, C]
        self.input_ndim = features.ndim
        start, stop = self.n_rows, self.n_rows + len(features)
        self.n_rows = stop
        if self.arrays is None and not self.batches and self.n_samples is not None:
            self.arrays = (np.empty((self.n_samples, *features.shape[1:]), np.float32),
                           np.empty((self.n_samples, *logits.shape[1:]), np.float32))
        if self.arrays is not None and (
            stop > self.n_samples or self.arrays[0].shape[1:] != features.shape[1:]
            or self.arrays[1].shape[1:] != logits.shape[1:]
        ):
            self.batches = [(self.arrays[0][:start], self.arrays[1][:start])]
            self.arrays = None
        if self.arrays is None:
            self.batches.append((features, logits))
            return
        self.arrays[0][start:stop] = features
        self.arrays[1][start:stop] = logits

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        if self.arrays is not None:
            return self.arrays[0][: self.n_rows], self.arrays[1][: self.n_rows]
        return (np.concatenate([f for f, _ in self.batches]),
                np.concatenate([z for _, z in self.batches]))


def _check_probabilities(out) -> None:
    import torch

    sums = out.sum(dim=1)
    if bool((out < -1e-4).any()) or not torch.allclose(sums, torch.ones_like(sums), atol=1e-3):
        raise ValueError(
            "The net's criterion is NLLLoss, which skorch feeds with the module's outputs as "
            "probabilities, but the outputs are not probabilities (negative, or rows that do not "
            "sum to 1). A module that ends in a bare nn.Linear needs "
            "criterion=torch.nn.CrossEntropyLoss; else end the module with a softmax."
        )


def _loss_for_criterion(criterion):
    """Closed form for (softmax) cross-entropy, autograd on the logits for the rest."""
    import torch

    plain = getattr(criterion, "weight", None) is None and not getattr(
        criterion, "label_smoothing", 0.0
    )
    if isinstance(criterion, torch.nn.CrossEntropyLoss):
        return SoftmaxCrossEntropy() if plain else AutogradLoss(criterion)
    if isinstance(criterion, torch.nn.NLLLoss):  # skorch takes log of softmax probabilities
        if plain:
            return SoftmaxCrossEntropy()
        return AutogradLoss(criterion, input_transform=lambda phi: phi.log_softmax(dim=1))
    return AutogradLoss(criterion)
