"""A labelling loop's state on disk: one JSON file, written atomically, refused when damaged.

The state holds what cannot be recomputed: the labels given and when, the
points skipped, the batches handed out and the stopping signals. The model is
not saved; it is refitted from the labels on resume. The file carries the
SHA-256 of its content, so a file cut short, damaged or edited by hand is
refused as a whole rather than half-loaded. Saving writes a temporary file
beside it, flushes it to disk and renames it over the old one (``os.replace``
is atomic): a process killed while saving leaves the last good state.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .._utils.atomic import write_atomic

__all__ = ["STATE_FILE", "DamagedStateError", "load_state", "save_state"]

STATE_FILE = "labelling_state.json"
_FORMAT = "modal-ibal labelling state"
_VERSION = 1


class DamagedStateError(ValueError):
    """The state file is missing parts, cut short, edited or of another format."""


def _checksum(content: dict[str, Any]) -> str:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def save_state(directory: str | os.PathLike, content: dict[str, Any]) -> Path:
    """Write ``content`` (JSON-able) as the state of ``directory``, atomically.

    Returns
    -------
    Path
        The state file.
    """
    path = Path(directory) / STATE_FILE
    document = {"format": _FORMAT, "version": _VERSION, "checksum": _checksum(content),
                "content": content}
    write_atomic(path, json.dumps(document, sort_keys=True, indent=1, allow_nan=False) + "\n")
    return path


def load_state(directory: str | os.PathLike) -> dict[str, Any]:
    """The content saved in ``directory``.

    Raises
    ------
    FileNotFoundError
        When ``directory`` holds no state.
    DamagedStateError
        When the file is not whole, not of this format, or its content does not match its
        checksum (damaged or edited).
    """
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"No labelling state in {directory} (no {STATE_FILE}); start a "
                                "loop there first.")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DamagedStateError(f"{path} is not whole JSON ({error}); it was not loaded.") from None
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise DamagedStateError(f"{path} is not a modal-ibal labelling state.")
    if document.get("version") != _VERSION:
        raise DamagedStateError(f"{path} has version {document.get('version')!r}; this "
                                f"modal-ibal reads version {_VERSION}.")
    content = document.get("content")
    if not isinstance(content, dict) or document.get("checksum") != _checksum(content):
        raise DamagedStateError(f"{path} does not match its checksum: it was damaged or edited "
                                "by hand, and was not loaded.")
    return content
