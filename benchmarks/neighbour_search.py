r"""Nearest-neighbour search for kernel herding: the project's searches next to FAISS's.

::

    python -m benchmarks.neighbour_search [--sets structureless,clustered,digits,fashion-mnist]
                                          [--sizes 20000,100000] [--dims 16,64]
                                          [--n-neighbors 20] [--probe 2000]
                                          [--out results/neighbour_search]

Every search finds the 20 nearest neighbours of every point of one float32 set
of codes, on one thread (BLAS and OpenMP), in this process, one after another:

``exact``
    :func:`~modal_ibal.search._knn_exact.exact_neighbours` (scikit-learn's brute force).
``partitioned``
    :func:`~modal_ibal.search._knn_partitioned.partitioned_neighbours`, 512
    candidates, unchecked.
``auto``
    :func:`~modal_ibal.search._knn.searched_neighbours`: the partitioned search with
    its recall measured on 256 sampled points, widened or replaced by the exact
    search below the 0.8 target (the note says what it did).
``check``
    The 512-candidate partitioned search, then its recall check
    (:func:`~modal_ibal.search._recall.sampled_recall` on 256 points); the note gives
    the check's own seconds and their share of the search's.
``faiss-flat``, ``faiss-ivf``, ``faiss-hnsw``
    FAISS (``faiss-cpu``): the exact ``IndexFlatL2``; ``IndexIVFFlat`` with
    :math:`4\sqrt M` lists trained on all points and ``nprobe`` 16; ``IndexHNSWFlat``
    with 32 links, ``efConstruction`` 40 and ``efSearch`` 64. Times include
    building the index.

The recall is the share of the true 20 neighbours found on ``--probe`` points
(:func:`~modal_ibal.search._recall.sampled_recall`: a neighbour tied with the
20th counts as found).

The sets, float32, as herding's kernel sees them (unit rows):

``structureless``
    Gaussian rows, unit-normalised: no cluster structure at all.
``clustered``
    100 Gaussian clusters (centres :math:`N(0, I)`, spread 0.1), unit-normalised.
``digits``
    The final layer's input features (``--dims`` wide, after ReLU) of an MLP
    ``64-128-d-10`` fitted for 30 epochs on scikit-learn's digits, read on
    noisy copies of the digits (:func:`benchmarks.workloads.sample_pool`).
``fashion-mnist``
    The same for an MLP ``784-256-d-10`` fitted for 10 epochs on 5,000
    training images, read on ``min(size, 70,000)`` images of the 70,000 there are.

Each row is appended to ``rows.jsonl`` in ``--out`` as soon as it is measured;
``table.md`` is written at the end from every row there, a later row of the same
set, size and search replacing an earlier one (so one search can be measured
again with ``--methods``); ``--report-only`` writes it without measuring.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits
from torch import nn

from benchmarks.workloads import sample_pool
from modal_ibal.coverage._kernel import unit_rows
from modal_ibal.experiments._datasets import load_fashion_mnist
from modal_ibal.search._knn import searched_neighbours
from modal_ibal.search._knn_exact import exact_neighbours
from modal_ibal.search._knn_partitioned import partitioned_neighbours
from modal_ibal.search._recall import sampled_recall

_FASHION_MNIST_IMAGES = 70_000
_HNSW_LINKS, _HNSW_EF_CONSTRUCTION, _HNSW_EF_SEARCH = 32, 40, 64
_IVF_PROBES = 16


def structureless(n_points: int, n_dims: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n_points, n_dims), dtype=np.float32)


def clustered(n_points: int, n_dims: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((100, n_dims), dtype=np.float32)
    return centres[rng.integers(0, 100, n_points)] + 0.1 * rng.standard_normal(
        (n_points, n_dims), dtype=np.float32)


def _features(train_X: np.ndarray, train_y: np.ndarray, read_X: np.ndarray, hidden: int,
              n_dims: int, epochs: int) -> np.ndarray:
    """The ``n_dims``-wide final-layer inputs of an MLP fitted on (``train_X``, ``train_y``)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        body = nn.Sequential(nn.Linear(train_X.shape[1], hidden), nn.ReLU(),
                             nn.Linear(hidden, n_dims), nn.ReLU())
        head = nn.Linear(n_dims, 10)
        optimiser = torch.optim.Adam([*body.parameters(), *head.parameters()], lr=1e-3)
        X, y = torch.from_numpy(train_X), torch.from_numpy(train_y)
        for _ in range(epochs):
            for batch in torch.randperm(len(X)).split(64):
                optimiser.zero_grad()
                nn.functional.cross_entropy(head(body(X[batch])), y[batch]).backward()
                optimiser.step()
        with torch.no_grad():
            return torch.cat([body(torch.from_numpy(block)) for block in
                              np.array_split(read_X, max(1, len(read_X) // 8192))]).numpy()


def digits_codes(n_points: int, n_dims: int) -> np.ndarray:
    X, y = load_digits(return_X_y=True)
    pool, _ = sample_pool(n_points, np.random.default_rng(0), image=False)
    return _features((X / 16.0).astype(np.float32), y.astype(np.int64), pool, 128, n_dims, 30)


def fashion_mnist_codes(n_points: int, n_dims: int) -> np.ndarray:
    X, y = load_fashion_mnist(split="all")
    X = X.reshape(len(X), -1)
    order = np.random.default_rng(0).permutation(len(X))
    train = order[:5_000]
    read = order[:min(n_points, _FASHION_MNIST_IMAGES)]
    return _features(X[train], y[train], X[read], 256, n_dims, 10)


SETS: dict[str, Callable[[int, int], np.ndarray]] = {
    "structureless": structureless,
    "clustered": clustered,
    "digits": digits_codes,
    "fashion-mnist": fashion_mnist_codes,
}


def _faiss_flat(Z: np.ndarray, k: int) -> np.ndarray:
    import faiss

    index = faiss.IndexFlatL2(Z.shape[1])
    index.add(Z)
    return index.search(Z, k)[1]


def _faiss_ivf(Z: np.ndarray, k: int) -> np.ndarray:
    import faiss

    n_lists = int(4 * np.sqrt(len(Z)))
    quantiser = faiss.IndexFlatL2(Z.shape[1])
    index = faiss.IndexIVFFlat(quantiser, Z.shape[1], n_lists)
    index.train(Z)
    index.add(Z)
    index.nprobe = _IVF_PROBES
    return index.search(Z, k)[1]


def _faiss_hnsw(Z: np.ndarray, k: int) -> np.ndarray:
    import faiss

    index = faiss.IndexHNSWFlat(Z.shape[1], _HNSW_LINKS)
    index.hnsw.efConstruction = _HNSW_EF_CONSTRUCTION
    index.add(Z)
    index.hnsw.efSearch = _HNSW_EF_SEARCH
    return index.search(Z, k)[1]


def _searches(k: int) -> dict[str, Callable[[np.ndarray], tuple[np.ndarray, str]]]:
    def auto(Z):
        neighbours, _, outcome = searched_neighbours(Z, k)
        what = (f"{outcome.method}, {outcome.n_candidates} candidates, "
                f"sampled recall {outcome.recall:.3f}" if outcome.recall is not None
                else outcome.method)
        return neighbours, what

    def check(Z):
        start = time.perf_counter()
        neighbours = partitioned_neighbours(Z, k)[0]
        search = time.perf_counter() - start
        start = time.perf_counter()
        sampled_recall(Z, neighbours)
        checked = time.perf_counter() - start
        return neighbours, f"{checked:.3f} s, {checked / search:.0%} of the search's {search:.2f} s"

    return {
        "exact": lambda Z: (exact_neighbours(Z, k)[0], ""),
        "partitioned": lambda Z: (partitioned_neighbours(Z, k)[0], "512 candidates"),
        "auto": auto,
        "check": check,
        "faiss-flat": lambda Z: (_faiss_flat(Z, k), ""),
        "faiss-ivf": lambda Z: (_faiss_ivf(Z, k), f"{int(4 * np.sqrt(len(Z)))} lists, "
                                                  f"nprobe {_IVF_PROBES}"),
        "faiss-hnsw": lambda Z: (_faiss_hnsw(Z, k), f"M {_HNSW_LINKS}, efSearch {_HNSW_EF_SEARCH}"),
    }


def measure(set_name: str, n_points: int, n_dims: int, k: int, n_probe: int,
            methods: Sequence[str]) -> list[dict]:
    """One row per search of one set of codes: seconds, recall on ``n_probe`` points, a note."""
    Z = np.ascontiguousarray(unit_rows(SETS[set_name](n_points, n_dims).astype(np.float32)))
    searches = _searches(k)
    rows = []
    for method in methods:
        start = time.perf_counter()
        with threadpool_limits(1):
            found, note = searches[method](Z)
        seconds = time.perf_counter() - start
        rows.append({"set": set_name, "n_points": len(Z), "n_dims": n_dims, "method": method,
                     "seconds": seconds, "recall": sampled_recall(Z, found, n_sample=n_probe),
                     "note": note})
    return rows


def latest_rows(path: Path) -> list[dict]:
    """The rows of ``rows.jsonl``, the last of each set, size, width and search."""
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows[(row["set"], row["n_points"], row["n_dims"], row["method"])] = row
    return list(rows.values())


def table(rows: list[dict]) -> str:
    """Markdown: one line per set and size, time and recall of each search."""
    methods = list(dict.fromkeys(row["method"] for row in rows))
    keys = list(dict.fromkeys((row["set"], row["n_points"], row["n_dims"]) for row in rows))
    lines = ["| set | points | d | " + " | ".join(methods) + " |",
             "|---|---|---|" + "---|" * len(methods)]
    for key in keys:
        cells = []
        for method in methods:
            row = next((r for r in rows if (r["set"], r["n_points"], r["n_dims"]) == key
                        and r["method"] == method), None)
            cells.append("" if row is None else f"{row['seconds']:.2f} s, {row['recall']:.3f}")
        lines.append(f"| {key[0]} | {key[1]:,} | {key[2]} | " + " | ".join(cells) + " |")
    lines.append("")
    for method, title in (("auto", "`auto` did"), ("check", "The recall check took")):
        notes = [f"- {r['set']} {r['n_points']:,} x {r['n_dims']}: {r['note']}" for r in rows
                 if r["method"] == method]
        if notes:
            lines += [f"{title}:", "", *notes, ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--dims", default="16,64")
    parser.add_argument("--n-neighbors", type=int, default=20)
    parser.add_argument("--probe", type=int, default=2_000)
    parser.add_argument("--methods", default=",".join(_searches(1)))
    parser.add_argument("--out", type=Path, default=Path("results/neighbour_search"))
    parser.add_argument("--report-only", action="store_true",
                        help="write table.md from rows.jsonl without measuring")
    args = parser.parse_args(argv)
    if args.report_only:
        report = table(latest_rows(args.out / "rows.jsonl"))
        (args.out / "table.md").write_text(report, encoding="utf-8")
        print(report)
        return
    import faiss

    faiss.omp_set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for set_name in args.sets.split(","):
        for size in map(int, args.sizes.split(",")):
            for dims in map(int, args.dims.split(",")):
                for row in measure(set_name, size, dims, args.n_neighbors, args.probe,
                                   args.methods.split(",")):
                    with open(args.out / "rows.jsonl", "a", encoding="utf-8") as file:
                        file.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)
    report = table(latest_rows(args.out / "rows.jsonl"))
    (args.out / "table.md").write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
