"""The experiments' files on disk: written atomically, read back only when complete.

Every file the experiments write (run files, ``results.csv``, ``timings.csv``,
``protocol.json``, ``summary.md``, the figures) goes through
:func:`open_atomic`: the bytes go to a temporary file in the target's folder,
are flushed to disk, and replace the target with ``os.replace``. A reader sees
the old file or the whole new one, and an error or Ctrl-C while writing leaves
the old file as it was.

Files can still be damaged from outside (a copy cut short, a full disk, a hand
edit), so a file is trusted only when it says it is complete.
:func:`read_rows` accepts a table only when it ends with a newline, has the
header :data:`COLUMNS`, every field parses, and it holds exactly the rows its
runs imply: every (round, metric) pair for rounds ``0 .. n_rounds`` (no
``query_seconds`` at round 0, where nothing is queried), every strategy at
every seed, with ``n_labelled = n_initial + round * batch_size``. Given the
protocol (``protocol.json``), ``n_rounds``, the label counts and the
experiment name are the protocol's; without it they must agree across the
file. :func:`read_run` applies the same check to one (strategy, seed) run file.
Anything else raises :class:`DamagedFileError`, naming the file and the
first thing wrong with it.

Only a cut that removes whole runs at the end of ``results.csv`` (all seeds
of the last strategies) leaves a table that looks like a smaller experiment;
``results.csv`` is rebuilt from the run files by every ``run``, so re-running
with ``--resume`` restores it.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._utils.atomic import open_atomic, write_atomic

__all__ = [
    "COLUMNS",
    "SCORE_METRICS",
    "TIMING_METRICS",
    "DamagedFileError",
    "DamagedRunWarning",
    "check_folder",
    "open_atomic",
    "read_protocol",
    "read_rows",
    "read_run",
    "run_file",
    "write_atomic",
]

COLUMNS = ("experiment", "strategy", "seed", "round", "n_labelled", "metric", "value")
SCORE_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "classes_found")
TIMING_METRICS = ("fit_seconds", "query_seconds")
_INTEGER_COLUMNS = ("seed", "round", "n_labelled")
_ROW_KEYS = ["experiment", "strategy", "seed", "round", "metric"]
_PROTOCOL_INTEGERS = ("n_initial", "batch_size", "n_rounds")


class DamagedFileError(ValueError):
    """A file the experiments wrote is incomplete or not what they write.

    Attributes
    ----------
    path : Path
        The damaged file.
    reason : str
        The first thing found wrong, as a clause (``"it is empty"``).
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"The file '{path}' is damaged: {reason}.")


class DamagedRunWarning(UserWarning):
    """A run file found when resuming is damaged; the run is computed again."""


def check_folder(path: str | os.PathLike, name: str = "'out' parameter") -> Path:
    """Create the folder ``path`` if needed and check that files can be written in it.

    Parameters
    ----------
    path : path
    name : str, default="'out' parameter"
        How the user gave ``path`` (``"'--out' option"`` on the command line),
        for the error message.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        When ``path`` is a file, cannot be created, or refuses a new file.
    """
    path = Path(path)
    expected = f"The {name} must be a folder that files can be written to. Got '{path}'"
    if path.exists() and not path.is_dir():
        raise ValueError(f"{expected}, which is a file.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"{expected}, which cannot be created: {error.strerror}.") from None
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=path)
    except OSError as error:
        raise ValueError(f"{expected}, where a new file cannot be written: "
                         f"{error.strerror}.") from None
    os.close(descriptor)
    os.unlink(probe)
    return path


def read_protocol(out: str | os.PathLike) -> dict[str, Any] | None:
    """The settings recorded in ``<out>/protocol.json``, or None when there is no such file.

    Raises
    ------
    DamagedFileError
        When the file is not JSON, or lacks the experiment name or an integer
        ``n_initial``, ``batch_size`` or ``n_rounds``.
    """
    path = Path(out) / "protocol.json"
    if not path.is_file():
        return None
    try:
        protocol = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DamagedFileError(path, f"it is not JSON ({error})") from None
    if (
        not isinstance(protocol, dict)
        or not isinstance(protocol.get("experiment"), str)
        or not all(isinstance(protocol.get(key), int) for key in _PROTOCOL_INTEGERS)
    ):
        raise DamagedFileError(path, "it lacks the experiment name or an integer n_initial, "
                                     "batch_size or n_rounds")
    return protocol


def read_run(
    path: str | os.PathLike, protocol: Mapping[str, Any], strategy: str, seed: int
) -> pd.DataFrame:
    """One (strategy, seed) run file, checked complete for ``protocol``.

    The one check that decides whether a run file is trusted, by resuming and
    by assembling ``results.csv``: :func:`read_rows` with the score and timing
    metrics, and every row naming ``strategy`` and ``seed``.

    Parameters
    ----------
    path : path
    protocol : mapping
        ``ExperimentSpec.protocol()``: ``experiment``, ``n_initial``, ``batch_size``,
        ``n_rounds``.
    strategy : str
    seed : int

    Returns
    -------
    pandas.DataFrame of shape (n_rows, 7)
        Columns :data:`COLUMNS`; ``value`` kept as its exact text.

    Raises
    ------
    DamagedFileError
    """
    return read_rows(path, SCORE_METRICS + TIMING_METRICS, protocol, run=(strategy, int(seed)))


def read_rows(
    path: str | os.PathLike,
    metrics: Sequence[str],
    protocol: Mapping[str, Any] | None = None,
    *,
    run: tuple[str, int] | None = None,
) -> pd.DataFrame:
    """A table of runner rows (a run file, ``results.csv``, ``timings.csv``), checked complete.

    Parameters
    ----------
    path : path
    metrics : sequence of str
        The metrics every run must hold at every round (``query_seconds`` from round 1).
    protocol : mapping, optional
        ``experiment``, ``n_initial``, ``batch_size`` and ``n_rounds`` the rows must
        match; without it, the rounds and label counts must agree across the file.
    run : (strategy, seed), optional
        The one run the file must hold.

    Returns
    -------
    pandas.DataFrame of shape (n_rows, 7)
        Columns :data:`COLUMNS`, in the file's order; ``seed``, ``round`` and
        ``n_labelled`` as int64, the others (``value`` included) as their exact text.

    Raises
    ------
    DamagedFileError
        Naming the file and the first thing wrong with it.
    FileNotFoundError
        When there is no file at ``path``.

    Notes
    -----
    For each experiment with strategies :math:`S`, seeds :math:`K` and rounds
    :math:`R`, the rows are exactly

    .. math::  S \\times K \\times \\{(r, m) : 0 \\le r \\le R,\\ m \\in M\\}
               \\setminus \\{(0, \\mathrm{query\\_seconds})\\},

    each once, with :math:`n_r = n_0 + r B` labels at round :math:`r`.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data:
        raise DamagedFileError(path, "it is empty")
    if not data.endswith(b"\n"):
        raise DamagedFileError(path, "it ends in the middle of a line, so it was cut short")
    try:
        with warnings.catch_warnings():  # a first line with extra fields only warns
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.BytesIO(data), header=None, names=list(COLUMNS),
                                index_col=False, dtype=str, keep_default_na=False,
                                skip_blank_lines=False, encoding="utf-8")
    except pd.errors.ParserWarning:
        raise DamagedFileError(path, f"its lines have more than {len(COLUMNS)} fields") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DamagedFileError(path, f"it does not parse as CSV ({' '.join(str(error).split())})"
                               ) from None
    if frame.iloc[0].tolist() != list(COLUMNS):
        header = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        raise DamagedFileError(path, f"its header is {header!r}, not {','.join(COLUMNS)!r}")
    frame = frame.iloc[1:].reset_index(drop=True)
    if frame.empty:
        raise DamagedFileError(path, "it holds the header and no rows")
    _refuse_first(path, (frame == "").any(axis=1), "line {line} has empty or missing fields")
    for column in _INTEGER_COLUMNS:
        _refuse_first(path, ~frame[column].str.fullmatch("[0-9]+"),
                      f"its '{column}' on line {{line}} is not a non-negative integer")
        frame[column] = frame[column].astype("int64")
    _check_values(path, frame, metrics)
    if protocol is not None:
        _refuse_first(path, frame["experiment"] != protocol["experiment"],
                      f"line {{line}} belongs to another experiment, not "
                      f"{protocol['experiment']!r}")
    if run is not None:
        _refuse_first(path, (frame["strategy"] != run[0]) | (frame["seed"] != run[1]),
                      f"line {{line}} belongs to another run, not strategy {run[0]!r}, "
                      f"seed {run[1]}")
    _check_labels(path, frame, protocol)
    _check_row_set(path, frame, metrics, protocol)
    return frame


def _refuse_first(path: Path, bad: pd.Series, reason: str) -> None:
    """Raise for the first flagged row; ``reason`` may name its ``{line}`` (header is line 1)."""
    flagged = np.flatnonzero(bad.to_numpy(dtype=bool))
    if flagged.size:
        raise DamagedFileError(path, reason.format(line=int(flagged[0]) + 2))


def _check_values(path: Path, frame: pd.DataFrame, metrics: Sequence[str]) -> None:
    _refuse_first(path, ~frame["metric"].isin(metrics),
                  f"the metric on line {{line}} is not one of {', '.join(metrics)}")
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy()  # NaN where unparsable
    _refuse_first(path, pd.Series(~np.isfinite(values)),
                  "the value on line {line} is not a finite number")
    is_score = frame["metric"].isin(SCORE_METRICS).to_numpy()
    _refuse_first(path, pd.Series(is_score & ((values < 0) | (values > 1))),
                  "the score on line {line} is outside [0, 1]")
    _refuse_first(path, pd.Series(~is_score & (values < 0)),
                  "the time on line {line} is negative")


def _check_labels(path: Path, frame: pd.DataFrame, protocol: Mapping[str, Any] | None) -> None:
    """``n_labelled`` is the protocol's ``n_initial + round * batch_size``, or one per round."""
    if protocol is not None:
        expected = protocol["n_initial"] + frame["round"] * protocol["batch_size"]
        _refuse_first(path, frame["n_labelled"] != expected,
                      "the label count on line {line} is not the protocol's "
                      f"{protocol['n_initial']} + round x {protocol['batch_size']}")
        return
    per_round = frame.groupby(["experiment", "round"])["n_labelled"]
    _refuse_first(path, per_round.transform("nunique") > 1,
                  "the label count on line {line} differs from other rows of its round")
    budgets = per_round.first().groupby(level="experiment").diff()  # [experiments x rounds]
    if (budgets <= 0).any():
        raise DamagedFileError(path, "its label counts do not grow from round to round")


def _check_row_set(path: Path, frame: pd.DataFrame, metrics: Sequence[str],
                   protocol: Mapping[str, Any] | None) -> None:
    """Every strategy x seed x (round, metric) of each experiment, once each."""
    _refuse_first(path, frame.duplicated(_ROW_KEYS), "line {line} repeats an earlier row")
    expected = []
    for experiment, rows in frame.groupby("experiment", sort=False):
        n_rounds = protocol["n_rounds"] if protocol is not None else rows["round"].max()
        grid = pd.MultiIndex.from_product(
            [[experiment], rows["strategy"].unique(), rows["seed"].unique(),
             range(n_rounds + 1), list(metrics)], names=_ROW_KEYS)
        unqueried = (grid.get_level_values("round") == 0) & (
            grid.get_level_values("metric") == "query_seconds")
        expected.append(grid[~unqueried])
    expected = expected[0].append(expected[1:])
    present = pd.MultiIndex.from_frame(frame[_ROW_KEYS])
    _refuse_first(path, pd.Series(~present.isin(expected)),
                  "line {line} holds a round after the protocol's last")
    missing = expected.difference(present, sort=False)
    if len(missing):
        experiment, strategy, seed, round_, metric = missing[0]
        raise DamagedFileError(
            path, f"it lacks {len(missing)} of the {len(expected)} rows its runs need, the "
                  f"first being strategy {strategy!r}, seed {seed}, round {round_}, {metric}")


def run_file(out: str | os.PathLike, strategy: str, seed: int) -> Path:
    """The file that holds (or will hold) one finished run: ``<out>/runs/<strategy>__seed<k>.csv``."""
    return Path(out) / "runs" / f"{strategy}__seed{int(seed)}.csv"
