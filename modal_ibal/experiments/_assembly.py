"""An experiment's results assembled from its checked run files.

The runs are read in one canonical order, so that a resumed experiment writes the same
``results.csv``, byte for byte, as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

import modal_ibal  # noqa: F401  (applies the modAL compatibility shim before modAL is used)

from ._files import (
    COLUMNS,
    TIMING_METRICS,
    DamagedFileError,
    DamagedRunWarning,
    read_protocol,
    read_run,
    run_file,
    write_atomic,
)
from ._specs import ExperimentSpec

__all__ = ["assemble", "check_protocol", "complete_runs", "to_csv"]

_SORT_KEYS = ["strategy", "seed", "round", "metric"]


def assemble(
    out: str | os.PathLike,
    keys: Iterable[tuple[str, int]],
    protocol: Mapping | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the given runs' files and write ``results.csv`` and ``timings.csv`` in canonical order.

    Every run file is checked (:func:`modal_ibal.experiments._files.read_run`)
    before anything is written, so a damaged one leaves the previous
    ``results.csv`` and ``timings.csv`` as they were.

    Parameters
    ----------
    out : path
    keys : iterable of (strategy, seed)
    protocol : mapping, optional
        The settings the runs were made with (``ExperimentSpec.protocol()``);
        default: ``<out>/protocol.json``.

    Returns
    -------
    results, timings : pandas.DataFrame
        Sorted by strategy, seed, round and metric.

    Raises
    ------
    DamagedFileError
        When a run file (or ``protocol.json``) is damaged.
    ValueError
        When no ``protocol`` is given and ``out`` holds no ``protocol.json``.
    """
    out = Path(out)
    if protocol is None:
        protocol = read_protocol(out)
        if protocol is None:
            raise ValueError(f"The 'out' parameter must be a folder of runs with its "
                             f"protocol.json. Got '{out}', which has none.")
    frames = [read_run(run_file(out, name, seed), protocol, name, seed) for name, seed in keys]
    combined = pd.concat(frames, ignore_index=True) if frames else _empty_rows()
    combined = combined.sort_values(_SORT_KEYS, kind="mergesort", ignore_index=True)
    is_timing = combined["metric"].isin(TIMING_METRICS)
    results = combined[~is_timing].reset_index(drop=True)
    timings = combined[is_timing].reset_index(drop=True)
    write_atomic(out / "results.csv", to_csv(results))
    write_atomic(out / "timings.csv", to_csv(timings))
    return results.astype({"value": float}), timings.astype({"value": float})


def complete_runs(out: Path, keys: list[tuple[str, int]], protocol: Mapping) -> set:
    """The keys whose run file is complete; a warning names each damaged one."""
    done = set()
    for name, seed in keys:
        path = run_file(out, name, seed)
        if not path.is_file():
            continue
        try:
            read_run(path, protocol, name, seed)
        except DamagedFileError as error:
            warnings.warn(f"{error} Running strategy '{name}', seed {seed} again.",
                          DamagedRunWarning, stacklevel=3)
        else:
            done.add((name, seed))
    return done


def check_protocol(out: Path, spec: ExperimentSpec, resume: bool) -> dict:
    current = spec.protocol()
    has_runs = any((out / "runs").glob("*.csv"))
    previous = read_protocol(out) if has_runs else None
    if previous is not None and previous != current:
        action = "resume them" if resume else "write next to them"
        raise ValueError(
            f"The runs in '{out}' were made with {previous}, not {current}; refusing to "
            f"{action}. Use the same settings or another --out folder."
        )
    write_atomic(out / "protocol.json", json.dumps(current, indent=2, sort_keys=True) + "\n")
    return current


def to_csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def _empty_rows() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype="int64" if name in ("seed", "round", "n_labelled")
                                         else str) for name in COLUMNS})
