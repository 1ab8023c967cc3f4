r"""Query speed and peak memory of the IBAL strategies against modAL's ``entropy_sampling``.

::

    python -m benchmarks.query_speed [--sizes 10000,100000,1000000] [--labelled 100,10000]
                                     [--repeats 5] [--out results/bench]

In one process and one run, on the same fitted skorch net and the same float32
pool, it times every query strategy of the library next to modAL's own
``entropy_sampling`` and next to the floor of any query: the bare batched
forward pass of the same module over the same pool under ``torch.no_grad()``.
Two pools are measured:

* ``vector``: 64 features (sklearn digits rows plus Gaussian noise), the MLP
  ``Linear(64, 64)-ReLU-Linear(64, 64)-ReLU-Linear(64, 10)`` with
  ``CrossEntropyLoss``, fitted briefly on digits; pool sizes ``--sizes`` and
  labelled-set sizes ``--labelled``;
* ``image``: 1 x 8 x 8 digits images plus noise, :class:`modal_ibal.models.SmallCNN`,
  ``--image-size`` images.

What is reported, per (pool, N, n) and strategy:

time
    The median of up to ``--repeats`` calls (``--repeats-large`` from N =
    1,000,000 on) with ``time.perf_counter``, garbage collector on, one
    ``gc.collect()`` before a strategy's calls; a strategy stops repeating once
    its calls have used ``--budget`` seconds (at least one call), and the table
    says how many ran. Every strategy ran once on a small pool before (imports,
    thread pools). Strategies that do not look at the labelled set (the floor,
    modAL's entropy, the library's entropy and margin, BADGE) are timed once per
    N and shown for every n.
ratios
    to modAL's ``entropy_sampling``, to the floor, and to "floor + scoring": the
    floor plus the same strategy's work given the pool's final-layer outputs for
    free (the labelled set's forward pass, the scores, the distances, the ranking),
    i.e. what the strategy would cost if its own pass over the pool were as fast
    as the bare forward pass. It is timed only where one query took less than
    ``--budget`` seconds (there the distance search dominates both anyway).
peak extra memory
    Resident memory, so numpy, torch and BLAS allocations alike (``tracemalloc``
    would miss torch's; ``ru_maxrss`` cannot be reset). Before a strategy's first
    timed call: ``gc.collect()``, glibc ``malloc_trim(0)`` (freed heap pages go back
    to the kernel, so the query cannot reuse them unseen), ``echo 5 >
    /proc/self/clear_refs`` (the kernel resets the peak resident set size
    ``VmHWM`` to the current one), read ``VmRSS``; after it, read ``VmHWM``. Peak
    extra = ``VmHWM - VmRSS`` before: every page the query made resident, at its
    highest point. ``peak RSS`` is the whole process's ``VmHWM`` (interpreter,
    torch, the pool). By default (``--memory inline``) this wraps the first timed
    call in the timing process itself; ``--memory grouped`` measures instead in a
    fresh child process per (pool, N, n) that loads the same pickled nets and saved
    pool and runs every strategy once on a small pool first, ``--memory isolated``
    in one child per strategy too.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import ctypes
import gc
import json
import math
import os
import pickle
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from modAL.uncertainty import entropy_sampling as modal_entropy_sampling
from modAL.utils.selection import multi_argmax
from scipy.stats import entropy as scipy_entropy
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier
from threadpoolctl import threadpool_info, threadpool_limits
from torch import nn

import modal_ibal
from modal_ibal import strategies as ibal
from modal_ibal.extract import DEFAULT_BATCH_SIZE, LastLayerOutputs, last_layer
from modal_ibal.selection import select_highest, select_lowest

try:
    from modal_ibal import baselines
except ImportError:  # written concurrently; the benchmark runs without it
    baselines = None
try:
    from modal_ibal.autoencoder import ConvAutoencoder, MLPAutoencoder
except ImportError:
    ConvAutoencoder = MLPAutoencoder = None
try:
    from modal_ibal.embedding import CachedEmbedding
except ImportError:
    CachedEmbedding = None
try:
    from modal_ibal.models import SmallCNN
except ImportError:
    SmallCNN = None

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DEFAULT_LABELLED = (100, 10_000)
DEFAULT_IMAGE_SIZE = 50_000
DEFAULT_REPEATS = 5
DEFAULT_REPEATS_LARGE = 3
LARGE_POOL = 1_000_000
DEFAULT_BUDGET_S = 10.0
N_INSTANCES = 10
WARMUP_POOL = 2_000
NOISE = 0.1
ENTROPY = "modAL entropy_sampling"
FLOOR = "forward pass (floor)"


# ----------------------------------------------------------------------------- data, models


def _digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y.astype(np.int64)


def sample_pool(size: int, rng: np.random.Generator, *, image: bool) -> tuple[np.ndarray, np.ndarray]:
    """``size`` noisy copies of random digits, float32: (size, 64) or (size, 1, 8, 8), and labels."""
    X, y = _digits()
    rows = rng.integers(0, len(X), size)
    pool = np.empty((size, 64), dtype=np.float32)
    for start in range(0, size, 1 << 16):  # no float64 temporaries of the whole pool
        block = rows[start : start + (1 << 16)]
        pool[start : start + len(block)] = X[block] + NOISE * rng.standard_normal(
            (len(block), 64), dtype=np.float32
        )
    return (pool.reshape(size, 1, 8, 8) if image else pool), y[rows]


def vector_module() -> nn.Module:
    """The 64-64-10 MLP of the benchmark."""
    return nn.Sequential(
        nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)
    )


def image_module() -> nn.Module:
    """The digits CNN: :class:`modal_ibal.models.SmallCNN` on 1 x 8 x 8 images."""
    return SmallCNN(1, 10, 8)


def fit_net(module: Callable[[], nn.Module], X: np.ndarray, y: np.ndarray, *, epochs: int,
            seed: int):
    """A skorch classifier with logits out, fitted briefly; the caller's torch RNG is untouched.

    ``module`` is a factory, called under the seed, so the initial weights are reproducible.
    """
    with torch.random.fork_rng(), warnings.catch_warnings():
        torch.manual_seed(seed)
        warnings.simplefilter("ignore")
        net = _classifier(module(), epochs).fit(X, y)
    net.module_.eval()
    return net


def _classifier(module: nn.Module, epochs: int) -> NeuralNetClassifier:
    return NeuralNetClassifier(
        module,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-2,
        max_epochs=epochs,
        batch_size=128,  # also skorch's predict_proba batch size, modAL's path
        train_split=None,
        verbose=0,
        classes=np.arange(10),
    )


@dataclass
class Workload:
    """One pool kind: a fitted net, the largest pool and labelled set, an autoencoder."""

    kind: str
    net: Any
    pool: np.ndarray
    X_labelled: np.ndarray
    y_labelled: np.ndarray
    autoencoder: Any = None
    notes: list[str] = field(default_factory=list)


def build_workload(kind: str, n_pool: int, n_labelled: int, *, epochs: int = 10,
                   seed: int = 0) -> Workload:
    """Fit the net (and an autoencoder, when the library has them) and draw the pool."""
    image = kind == "image"
    if image and SmallCNN is None:
        raise RuntimeError("modal_ibal.models.SmallCNN is not available for the image pool.")
    rng = np.random.default_rng(seed)
    X, y = _digits()
    X_train = X.reshape(-1, 1, 8, 8) if image else X
    net = fit_net(image_module if image else vector_module, X_train, y, epochs=epochs, seed=seed)
    pool, _ = sample_pool(n_pool, rng, image=image)
    X_labelled, y_labelled = sample_pool(n_labelled, rng, image=image)
    workload = Workload(kind, net, pool, X_labelled, y_labelled)
    autoencoder_class = ConvAutoencoder if image else MLPAutoencoder
    if autoencoder_class is None:
        workload.notes.append("modal_ibal.autoencoder is not available: autoencoder rows skipped.")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workload.autoencoder = autoencoder_class(
                latent_dim=16, max_epochs=max(1, epochs // 2), random_state=seed
            ).fit(X_train)
    if CachedEmbedding is None:
        workload.notes.append(
            "modal_ibal.embedding.CachedEmbedding is not available: cached-code rows skipped."
        )
    if baselines is None:
        workload.notes.append("modal_ibal.baselines is not available: its rows are skipped.")
    return workload


# ------------------------------------------------------------------------------- strategies


@dataclass
class Case:
    """What a strategy sees: the net, the pool prefix, the labelled prefix, precomputed extras."""

    net: Any
    X_pool: np.ndarray
    X_labelled: np.ndarray
    y_labelled: np.ndarray
    autoencoder: Any = None
    cached: Any = None  # CachedEmbedding with the pool's and labelled set's codes stored
    outputs: LastLayerOutputs | None = None  # the pool's final-layer outputs, for scoring
    n_instances: int = N_INSTANCES

    def labelled(self) -> dict:
        return {"X_labelled": self.X_labelled, "y_labelled": self.y_labelled}


@dataclass(frozen=True)
class Strategy:
    """A timed query, and the same strategy's work given the pool's outputs (or None)."""

    name: str
    query: Callable[[Case], Any]
    scoring: Callable[[Case], Any] | None = None
    uses_labelled: bool = True
    needs: str | None = None  # "autoencoder" or "cached": skipped without one


def forward_pass(module: nn.Module, X: np.ndarray, chunk: int = DEFAULT_BATCH_SIZE):
    """The floor: the module over the pool in contiguous chunks, eval mode, no autograd."""
    module.eval()
    with torch.no_grad():
        logits = [module(torch.from_numpy(X[start : start + chunk]))  # [b, C]
                  for start in range(0, len(X), chunk)]
    return torch.cat(logits)  # [N, C]


def _view(case: Case) -> ibal.LabelledView:
    """A LabelledView from the precomputed pool outputs; the labelled pass is part of the work."""
    reader = last_layer(case.net)
    return ibal.LabelledView(reader, case.outputs, reader.outputs(case.X_labelled),
                             reader.encode_labels(case.y_labelled), case.X_labelled)


def _normalised_entropy(probas: np.ndarray) -> np.ndarray:
    probas = probas / probas.sum(axis=1, keepdims=True)
    return ibal.predictive_entropy(probas)


class _PrecomputedFeatures:
    """An embedding that serves the pool's precomputed features and reads any other set."""

    def __init__(self, case: Case):
        self.case = case

    def __call__(self, X):
        if X is self.case.X_pool:
            return self.case.outputs.features
        return last_layer(self.case.net).outputs(X).features


def _ibal_scoring(reading: str):
    def score(case: Case):
        scores = ibal.representer_importance(_view(case), reading=reading)
        return select_lowest(scores, case.n_instances)

    return score


def _ibal_distance_scoring(embedding: str | None):
    def score(case: Case):
        view = _view(case)
        importance = ibal.representer_importance(view)
        chosen = case.cached if embedding == "cached" else None
        distance = ibal.labelled_distance(view, case.X_pool, chosen)
        return select_lowest(modal_ibal.normalise_by_max(importance) - distance, case.n_instances)

    return score


def _entropy_distance_scoring(case: Case):
    view = _view(case)
    entropy = ibal.predictive_entropy(view.pool.probas)
    distance = ibal.labelled_distance(view, case.X_pool, None)
    return select_highest(modal_ibal.normalise_by_max(entropy) + distance, case.n_instances)


def strategies() -> list[Strategy]:
    """Every strategy the benchmark times, in table order; availability is checked later."""
    rows = [
        Strategy(FLOOR, lambda c: forward_pass(c.net.module_, c.X_pool), uses_labelled=False),
        Strategy(
            ENTROPY,
            lambda c: modal_entropy_sampling(c.net, c.X_pool, n_instances=c.n_instances),
            lambda c: multi_argmax(np.transpose(scipy_entropy(np.transpose(c.outputs.probas))),
                                   c.n_instances),
            uses_labelled=False,
        ),
    ]
    if baselines is not None:
        rows += [
            Strategy(
                "baselines.entropy_sampling",
                lambda c: baselines.entropy_sampling(c.net, c.X_pool, c.n_instances),
                lambda c: select_highest(_normalised_entropy(c.outputs.probas), c.n_instances),
                uses_labelled=False,
            ),
            Strategy(
                "baselines.margin_sampling",
                lambda c: baselines.margin_sampling(c.net, c.X_pool, c.n_instances),
                lambda c: select_lowest(-np.diff(np.partition(c.outputs.probas, -2, axis=1)[:, -2:],
                                                 axis=1).ravel(), c.n_instances),
                uses_labelled=False,
            ),
        ]
    for reading in modal_ibal.IBAL_READINGS:
        rows.append(Strategy(
            f"ibal_sampling({reading})",
            lambda c, r=reading: ibal.ibal_sampling(c.net, c.X_pool, c.n_instances, reading=r,
                                                    **c.labelled()),
            _ibal_scoring(reading),
        ))
    rows += [
        Strategy(
            "ibal_distance_sampling(features)",
            lambda c: ibal.ibal_distance_sampling(c.net, c.X_pool, c.n_instances, **c.labelled()),
            _ibal_distance_scoring(None),
        ),
        Strategy(
            "ibal_distance_sampling(autoencoder, cached codes)",
            lambda c: ibal.ibal_distance_sampling(c.net, c.X_pool, c.n_instances,
                                                  embedding=c.cached, **c.labelled()),
            _ibal_distance_scoring("cached"),
            needs="cached",
        ),
        Strategy(
            "ibal_distance_sampling(autoencoder, uncached)",
            lambda c: ibal.ibal_distance_sampling(c.net, c.X_pool, c.n_instances,
                                                  embedding=c.autoencoder, **c.labelled()),
            needs="autoencoder",
        ),
        Strategy(
            "entropy_distance_sampling(features)",
            lambda c: ibal.entropy_distance_sampling(c.net, c.X_pool, c.n_instances,
                                                     **c.labelled()),
            _entropy_distance_scoring,
        ),
    ]
    if baselines is not None:
        rows += [
            Strategy(
                "coreset_sampling(features)",
                lambda c: baselines.coreset_sampling(c.net, c.X_pool, c.n_instances,
                                                     **c.labelled()),
                lambda c: baselines.coreset_sampling(c.net, c.X_pool, c.n_instances,
                                                     embedding=_PrecomputedFeatures(c),
                                                     **c.labelled()),
            ),
            Strategy(
                "badge_sampling",
                lambda c: baselines.badge_sampling(c.net, c.X_pool, c.n_instances,
                                                   random_state=0),
                uses_labelled=False,
            ),
        ]
    return rows


def available(strategy: Strategy, workload: Workload) -> bool:
    if strategy.needs is None:
        return True
    if strategy.needs == "cached":
        return workload.autoencoder is not None and CachedEmbedding is not None
    return workload.autoencoder is not None


def make_case(workload: Workload, n_pool: int, n_labelled: int, *, outputs: bool) -> Case:
    """The pool and labelled prefixes, with the autoencoder's codes cached (untimed)."""
    case = Case(workload.net, workload.pool[:n_pool], workload.X_labelled[:n_labelled],
                workload.y_labelled[:n_labelled], workload.autoencoder)
    if workload.autoencoder is not None and CachedEmbedding is not None:
        case.cached = CachedEmbedding(workload.autoencoder, random_state=0)
        case.cached.transform(case.X_pool)
        case.cached.transform(case.X_labelled)
    if outputs:
        case.outputs = last_layer(workload.net).outputs(case.X_pool)
    return case


# ----------------------------------------------------------------------------------- memory


_LIBC = None


def _malloc_trim() -> None:
    global _LIBC
    try:
        _LIBC = _LIBC or ctypes.CDLL("libc.so.6")
        _LIBC.malloc_trim(0)
    except OSError:  # not glibc
        pass


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {key} line.")


def reset_peak() -> None:
    """Reset the kernel's peak RSS (VmHWM) to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def memory_supported() -> bool:
    try:
        reset_peak()
        _status_bytes("VmHWM")
    except OSError:
        return False
    return True


def start_peak() -> int:
    """Collect garbage, return freed heap to the kernel, reset VmHWM; the RSS before."""
    gc.collect()
    _malloc_trim()
    reset_peak()
    return _status_bytes("VmRSS")


def end_peak(before: int) -> tuple[int, int]:
    """(peak extra bytes, peak total bytes) since :func:`start_peak` returned ``before``."""
    peak = _status_bytes("VmHWM")
    return max(0, peak - before), peak


def peak_extra(fn: Callable[[], Any]) -> tuple[int, int]:
    """(peak extra bytes, peak total bytes) of resident memory while ``fn()`` runs."""
    before = start_peak()
    fn()
    return end_peak(before)


def _probe(state: Path, kind: str, n_pool: int, n_labelled: int, names: Sequence[str]) -> dict:
    """Child side: peak memory of each named strategy on one (pool, N, n)."""
    with open(state / f"{kind}.pkl", "rb") as handle:
        workload = pickle.load(handle)
    workload.pool = np.load(state / f"{kind}_pool.npy")
    chosen = [s for s in strategies() if s.name in names]
    small = make_case(workload, min(WARMUP_POOL, n_pool), n_labelled, outputs=False)
    for strategy in chosen:
        strategy.query(small)
    case = make_case(workload, n_pool, n_labelled, outputs=False)
    del small
    return {s.name: peak_extra(lambda s=s: s.query(case)) for s in chosen}


def measure_memory(state: Path, kind: str, n_pool: int, n_labelled: int,
                   names: Sequence[str], *, isolated: bool, threads: int | None = None) -> dict:
    """Parent side: run the probe in fresh child processes; {name: (extra, peak)}."""
    groups = [[name] for name in names] if isolated else [list(names)]
    results = {}
    for group in groups:
        command = [sys.executable, "-m", "benchmarks.query_speed", "--probe", str(state), kind,
                   str(n_pool), str(n_labelled), json.dumps(group)]
        if threads:
            command += ["--threads", str(threads)]
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              cwd=Path(__file__).resolve().parent.parent)
        if done.returncode != 0:
            raise RuntimeError(f"The memory probe failed:\n{done.stderr[-3000:]}")
        results.update({k: tuple(v) for k, v in json.loads(done.stdout.splitlines()[-1]).items()})
    return results


# ---------------------------------------------------------------------------------- timing


def time_runs(fn: Callable[[], Any], repeats: int, budget_s: float, *,
              memory: bool = False) -> tuple[list[float], tuple[float, float]]:
    """Wall times of up to ``repeats`` calls, stopping once they add up to ``budget_s``.

    With ``memory``, the first call's peak extra and peak total resident memory
    are measured too (see :func:`peak_extra`); else they are NaN.
    """
    runs: list[float] = []
    peaks: tuple[float, float] = (math.nan, math.nan)
    gc.collect()
    while len(runs) < repeats and sum(runs) < budget_s:
        before = start_peak() if memory and not runs else None
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
        if before is not None:
            peaks = end_peak(before)
    return runs, peaks


@dataclass
class Row:
    pool: str
    n_pool: int
    n_labelled: int
    strategy: str
    runs: list[float]
    scoring_runs: list[float] = field(default_factory=list)
    median_s: float = math.nan
    scoring_s: float = math.nan
    floor_plus_scoring_s: float = math.nan
    x_entropy: float = math.nan
    x_floor: float = math.nan
    x_floor_scoring: float = math.nan
    peak_extra_bytes: float = math.nan
    peak_rss_bytes: float = math.nan


def benchmark_workload(workload: Workload, sizes: Sequence[int], labelled: Sequence[int], *,
                       repeats: int, budget_s: float, repeats_large: int | None = None,
                       memory: bool = False, log=print) -> list[Row]:
    """Time every available strategy on every (N, n) of one pool kind.

    ``repeats_large`` replaces ``repeats`` from N = 1,000,000 on. A strategy's
    floor + scoring is timed only when its query took less than ``budget_s``.
    """
    chosen = [s for s in strategies() if available(s, workload)]
    warm = make_case(workload, min(WARMUP_POOL, min(sizes)), min(labelled), outputs=True)
    for strategy in chosen:
        strategy.query(warm)
        if strategy.scoring is not None:
            strategy.scoring(warm)
    del warm
    rows: list[Row] = []
    for n_pool in sizes:
        runs_here = repeats if repeats_large is None or n_pool < LARGE_POOL else repeats_large
        shared: dict[str, Row] = {}
        for n_labelled in labelled:
            case = make_case(workload, n_pool, n_labelled, outputs=True)
            for strategy in chosen:
                if not strategy.uses_labelled and strategy.name in shared:
                    done = shared[strategy.name]
                    row = Row(workload.kind, n_pool, n_labelled, strategy.name, done.runs,
                              done.scoring_runs, peak_extra_bytes=done.peak_extra_bytes,
                              peak_rss_bytes=done.peak_rss_bytes)
                else:
                    runs, peaks = time_runs(lambda s=strategy, c=case: s.query(c), runs_here,
                                            budget_s, memory=memory)
                    scoring_runs = []
                    if strategy.scoring is not None and statistics.median(runs) < budget_s:
                        scoring_runs, _ = time_runs(lambda s=strategy, c=case: s.scoring(c),
                                                    runs_here, budget_s)
                    row = Row(workload.kind, n_pool, n_labelled, strategy.name, runs,
                              scoring_runs, peak_extra_bytes=peaks[0], peak_rss_bytes=peaks[1])
                    shared[strategy.name] = row
                rows.append(row)
                log(f"  {workload.kind} N={n_pool:>9,} n={n_labelled:>6,} "
                    f"{strategy.name:<50} {1e3 * statistics.median(row.runs):10.1f} ms "
                    f"({len(row.runs)} runs) peak extra {row.peak_extra_bytes / 2**20:8.1f} MB")
            del case
    _fill_ratios(rows)
    return rows


def _fill_ratios(rows: list[Row]) -> None:
    by_case: dict[tuple, dict[str, Row]] = {}
    for row in rows:
        row.median_s = statistics.median(row.runs)
        if row.scoring_runs:
            row.scoring_s = statistics.median(row.scoring_runs)
        by_case.setdefault((row.pool, row.n_pool, row.n_labelled), {})[row.strategy] = row
    for group in by_case.values():
        entropy, floor = group[ENTROPY].median_s, group[FLOOR].median_s
        for row in group.values():
            row.x_entropy = row.median_s / entropy
            row.x_floor = row.median_s / floor
            if row.scoring_runs:
                row.floor_plus_scoring_s = floor + row.scoring_s
                row.x_floor_scoring = row.median_s / row.floor_plus_scoring_s


# --------------------------------------------------------------------------------- reporting


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {name: metadata.version(dist) for name, dist in [
        ("torch", "torch"), ("skorch", "skorch"), ("scikit-learn", "scikit-learn"),
        ("numpy", "numpy"), ("scipy", "scipy"), ("modAL", "modAL-python")]}
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "torch threads": str(torch.get_num_threads()),
        "BLAS threads": ",".join(str(i["num_threads"]) for i in threadpool_info()
                                 if i["user_api"] == "blas"),
        **versions,
    }


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    return f"{1e3 * seconds:,.1f}" if seconds < 10 else f"{1e3 * seconds:,.0f}"


def _x(ratio: float) -> str:
    return "-" if math.isnan(ratio) else f"{ratio:.3g}"


def _mb(size: float) -> str:
    return "-" if math.isnan(size) else f"{size / 2**20:,.1f}"


def markdown(rows: list[Row], *, command: str, info: dict, loads: dict, notes: list[str],
             memory: str) -> str:
    lines = ["# Query speed: IBAL strategies against modAL's entropy_sampling", ""]
    lines += [f"Command: `{command}`", ""]
    lines += ["Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()) + ".", ""]
    lines += ["Load average (1, 5, 15 min): " + "; ".join(f"{k} {v}" for k, v in loads.items())
              + ".", ""]
    lines += [
        f"Each query asks for {N_INSTANCES} points. Time: median of the runs shown "
        "(`time.perf_counter`). Ratios: to modAL's `entropy_sampling` on the same net and pool "
        "(skorch `predict_proba`), to the bare forward pass (floor), and to the floor plus the "
        "strategy's own work given the pool's final-layer outputs (floor + scoring; timed where "
        "one query took less than --budget). Peak extra: "
        f"resident memory a query adds ({memory}; see the module docstring); peak RSS: the "
        "whole measuring process. Strategies blind to the labelled set were timed once per N.",
        "",
    ]
    lines += [f"Note: {note}" for note in notes]
    header = ("| strategy | runs | median ms | x entropy | x floor | floor+scoring ms "
              "| x (floor+scoring) | peak extra MB | bytes/point | peak RSS MB |")
    rule = "|" + "---|" * 10
    cases = sorted({(r.pool, r.n_pool, r.n_labelled) for r in rows},
                   key=lambda c: (c[0] != "vector", c[1], c[2]))
    for pool, n_pool, n_labelled in cases:
        lines += ["", f"## {pool} pool, N = {n_pool:,}, n = {n_labelled:,} labelled", "",
                  header, rule]
        for r in (r for r in rows if (r.pool, r.n_pool, r.n_labelled) == (pool, n_pool,
                                                                         n_labelled)):
            per_point = "-" if math.isnan(r.peak_extra_bytes) else \
                f"{r.peak_extra_bytes / n_pool:,.0f}"
            lines.append(
                f"| {r.strategy} | {len(r.runs)} | {_ms(r.median_s)} | {_x(r.x_entropy)} "
                f"| {_x(r.x_floor)} | {_ms(r.floor_plus_scoring_s)} | {_x(r.x_floor_scoring)} "
                f"| {_mb(r.peak_extra_bytes)} | {per_point} | {_mb(r.peak_rss_bytes)} |"
            )
    lines += ["", *growth_table(rows), ""]
    return "\n".join(lines)


def growth_table(rows: list[Row]) -> list[str]:
    """How time and memory grow with N (log-log slope) and with n, on the vector pool."""
    vector = [r for r in rows if r.pool == "vector"]
    sizes = sorted({r.n_pool for r in vector})
    labelled = sorted({r.n_labelled for r in vector})
    if len(sizes) < 2 and len(labelled) < 2:
        return []
    index = {(r.strategy, r.n_pool, r.n_labelled): r for r in vector}
    names = list(dict.fromkeys(r.strategy for r in vector))
    small, large, mid = sizes[0], sizes[-1], sizes[len(sizes) // 2]
    lines = [
        "## Growth (vector pool)", "",
        f"Time exponent: slope of log(time) against log(N) from N = {small:,} to {large:,} "
        "(1 = linear). n ratio: time at the largest n over time at the smallest, at "
        f"N = {mid:,}. Bytes/point: peak extra memory over N at N = {large:,}.", "",
        "| strategy | " + " | ".join(f"time exponent (n={n:,})" for n in labelled)
        + " | n ratio | " + " | ".join(f"bytes/point (n={n:,})" for n in labelled) + " |",
        "|" + "---|" * (2 + 2 * len(labelled)),
    ]
    for name in names:
        exponents, per_point = [], []
        for n in labelled:
            a, b = index.get((name, small, n)), index.get((name, large, n))
            exponents.append("-" if a is None or b is None or small == large else
                             f"{math.log(b.median_s / a.median_s) / math.log(large / small):.2f}")
            per_point.append("-" if b is None or math.isnan(b.peak_extra_bytes) else
                             f"{b.peak_extra_bytes / large:,.0f}")
        lo, hi = index.get((name, mid, labelled[0])), index.get((name, mid, labelled[-1]))
        n_ratio = "-" if lo is None or hi is None else f"{hi.median_s / lo.median_s:.2f}"
        lines.append(f"| {name} | " + " | ".join(exponents) + f" | {n_ratio} | "
                     + " | ".join(per_point) + " |")
    return lines


def write_csv(rows: list[Row], path: Path) -> None:
    fields = ["pool", "n_pool", "n_labelled", "strategy", "n_runs", "median_s", "min_s",
              "scoring_s", "floor_plus_scoring_s", "x_entropy", "x_floor", "x_floor_scoring",
              "peak_extra_bytes", "peak_rss_bytes", "runs_s"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({
                "pool": r.pool, "n_pool": r.n_pool, "n_labelled": r.n_labelled,
                "strategy": r.strategy, "n_runs": len(r.runs), "median_s": r.median_s,
                "min_s": min(r.runs), "scoring_s": r.scoring_s,
                "floor_plus_scoring_s": r.floor_plus_scoring_s, "x_entropy": r.x_entropy,
                "x_floor": r.x_floor, "x_floor_scoring": r.x_floor_scoring,
                "peak_extra_bytes": r.peak_extra_bytes, "peak_rss_bytes": r.peak_rss_bytes,
                "runs_s": " ".join(f"{t:.6f}" for t in r.runs),
            })


# ------------------------------------------------------------------------------------- main


def run(sizes: Sequence[int], labelled: Sequence[int], *, image_size: int, repeats: int,
        budget_s: float, memory: str, repeats_large: int | None = None, epochs: int = 10,
        threads: int | None = None, log=print) -> tuple[list[Row], list[str]]:
    """Build both workloads, time them, measure memory; returns the rows and notes."""
    rows, notes = [], []
    plan = [("vector", list(sizes))]
    if image_size > 0:
        plan.append(("image", [image_size]))
    if memory != "off" and not memory_supported():
        notes.append("/proc/self/clear_refs is not writable here: memory not measured.")
        memory = "off"
    try:
        for kind, kind_sizes in plan:
            if kind == "image" and SmallCNN is None:
                notes.append("modal_ibal.models.SmallCNN is not available: image pool skipped.")
                continue
            log(f"{kind} pool: fitting the net and drawing {max(kind_sizes):,} samples")
            workload = build_workload(kind, max(kind_sizes), max(labelled), epochs=epochs)
            # the ~400,000 objects of torch, scipy, skorch and the fitted nets: the
            # gc.collect() before each strategy's runs no longer walks them (~0.1 s each)
            gc.freeze()
            notes += [n for n in workload.notes if n not in notes]
            kind_rows = benchmark_workload(workload, kind_sizes, labelled, repeats=repeats,
                                           budget_s=budget_s, repeats_large=repeats_large,
                                           memory=memory == "inline", log=log)
            if memory in ("grouped", "isolated"):
                _attach_memory(workload, kind_rows, isolated=memory == "isolated",
                               threads=threads, log=log)
            rows += kind_rows
            del workload
    finally:
        gc.unfreeze()
    return rows, notes


def _attach_memory(workload: Workload, rows: list[Row], *, isolated: bool,
                   threads: int | None, log) -> None:
    with tempfile.TemporaryDirectory(prefix="query_speed_") as tmp:
        state = Path(tmp)
        np.save(state / f"{workload.kind}_pool.npy", workload.pool)
        pool, workload.pool = workload.pool, None
        try:
            with open(state / f"{workload.kind}.pkl", "wb") as handle:
                pickle.dump(workload, handle)
        finally:
            workload.pool = pool
        cases = sorted({(r.n_pool, r.n_labelled) for r in rows})
        for n_pool, n_labelled in cases:
            group = [r for r in rows if (r.n_pool, r.n_labelled) == (n_pool, n_labelled)]
            log(f"  memory: {workload.kind} N={n_pool:,} n={n_labelled:,}")
            found = measure_memory(state, workload.kind, n_pool, n_labelled,
                                   [r.strategy for r in group], isolated=isolated,
                                   threads=threads)
            for r in group:
                r.peak_extra_bytes, r.peak_rss_bytes = found.get(r.strategy, (math.nan, math.nan))


@contextlib.contextmanager
def thread_limit(threads: int | None):
    """torch, BLAS and OpenMP limited to ``threads`` inside the block (None: untouched)."""
    if not threads:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        torch.set_num_threads(before)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.query_speed",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=_int_list, default=list(DEFAULT_SIZES),
                   help="vector pool sizes N (default %(default)s)")
    p.add_argument("--labelled", type=_int_list, default=list(DEFAULT_LABELLED),
                   help="labelled-set sizes n (default %(default)s)")
    p.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE,
                   help="image pool size; 0 skips the image pool (default %(default)s)")
    p.add_argument("--repeats", type=int, default=DEFAULT_REPEATS,
                   help="most timed calls per strategy and case (default %(default)s)")
    p.add_argument("--repeats-large", type=int, default=DEFAULT_REPEATS_LARGE,
                   help=f"most timed calls from N = {LARGE_POOL:,} on (default %(default)s)")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S,
                   help="seconds after which a strategy stops repeating (default %(default)s)")
    p.add_argument("--memory", choices=["inline", "grouped", "isolated", "off"],
                   default="inline",
                   help="peak memory around each strategy's first timed call (inline), in a "
                        "fresh child per (pool, N, n) (grouped) or per strategy too "
                        "(isolated), or not at all (default %(default)s)")
    p.add_argument("--out", type=Path, default=Path("results/bench"),
                   help="folder for query_speed.md and query_speed.csv (default %(default)s)")
    p.add_argument("--threads", type=int, default=None,
                   help="run with this many torch, BLAS and OpenMP threads (default: as the "
                        f"libraries start, torch {torch.get_num_threads()})")
    p.add_argument("--probe", nargs=5, help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    with thread_limit(args.threads):
        if args.probe:
            state, kind, n_pool, n_labelled, names = args.probe
            found = _probe(Path(state), kind, int(n_pool), int(n_labelled), json.loads(names))
            print(json.dumps(found))
            return 0
        command = "python -m benchmarks.query_speed " + shlex.join(argv)
        loads = {"start": load_average()}
        started = time.perf_counter()
        rows, notes = run(args.sizes, args.labelled, image_size=args.image_size,
                          repeats=args.repeats, repeats_large=args.repeats_large,
                          budget_s=args.budget, memory=args.memory, threads=args.threads,
                          log=lambda text: print(text, file=sys.stderr, flush=True))
        loads["end"] = load_average()
        info = machine()
    if args.threads:
        notes.append(f"--threads {args.threads}: torch.set_num_threads({args.threads}) and a "
                     f"threadpoolctl limit of {args.threads} BLAS/OpenMP threads for the whole "
                     "run, memory children included.")
    notes.append(f"Whole run: {time.perf_counter() - started:.0f} s.")
    text = markdown(rows, command=command.strip(), info=info, loads=loads, notes=notes,
                    memory=f"--memory {args.memory}")
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "query_speed.md").write_text(text + "\n")
    write_csv(rows, args.out / "query_speed.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
