"""Loading files a user hands to rlnet without executing anything they contain.

Checkpoints and matrices can come from other people's machines. ``torch.load`` and ``numpy.load``
can unpickle arbitrary objects, and unpickling runs code; so checkpoints load with
``weights_only=True`` (tensors, containers and primitive values only) and matrices with
``allow_pickle=False``. Every failure is a :class:`ValueError` whose one-line message names the
file and the problem (missing, truncated, refused, wrong shape, NaN), which the CLI prints as
``rlnet: error: ...``.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

MATRIX_SUFFIXES = (".npy", ".npz", ".pt", ".pth", ".csv", ".txt")


def _existing_file(path: str | os.PathLike, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{what} {p} does not exist")
    if not p.is_file():
        raise ValueError(f"{what} {p} is not a file")
    if p.stat().st_size == 0:
        raise ValueError(f"{what} {p} is empty")
    return p


def torch_load_safe(p: Path, what: str) -> Any:
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "global" in str(err).lower():
            # weights_only refuses any global it does not know: loading would run the file's code.
            raise ValueError(f"{what} {p} holds objects that only load by executing code; refused "
                             f"(weights_only=True)") from err
        raise ValueError(f"{what} {p} is truncated or not a PyTorch file (not a readable zip archive "
                         f"or pickle)") from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise ValueError(f"{what} {p} is truncated or not a PyTorch file ({_short(err)})") from err


def _short(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return (lines[0] if lines else type(err).__name__)[:200]


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A Lightning checkpoint as a dict, loaded with ``weights_only=True``; ``ValueError`` if the
    file is missing, truncated, not a checkpoint, or needs code execution to load."""
    p = _existing_file(path, "checkpoint")
    ckpt = torch_load_safe(p, "checkpoint")
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"checkpoint {p} is not a Lightning checkpoint (no 'state_dict')")
    return ckpt


def check_state_dict_matches(state: dict[str, Tensor], expected: dict[str, Tensor], source: str) -> None:
    """``ValueError`` naming the first missing, unexpected or differently shaped entry."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing:
        raise ValueError(f"{source} lacks {missing[0]!r}: it was saved from a different model")
    if unexpected:
        raise ValueError(f"{source} has {unexpected[0]!r}, which the model does not: it was saved from a "
                         f"different model")
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ValueError(f"{source}: {k} has shape {tuple(state[k].shape)}, the model's is "
                             f"{tuple(v.shape)} (another n_hidden, n_members or task?)")


def load_matrix(path: str | os.PathLike, what: str = "matrix") -> Tensor:
    """A 2-D float32 matrix from ``.npy``/``.npz`` (``allow_pickle=False``), ``.pt``/``.pth``
    (``weights_only=True``) or ``.csv``/``.txt`` (text); ``ValueError`` unless it is numeric,
    two-dimensional and finite."""
    p = _existing_file(path, what)
    suffix = p.suffix.lower()
    if suffix not in MATRIX_SUFFIXES:
        raise ValueError(f"{what} {p}: unsupported file type {suffix!r}; use one of {', '.join(MATRIX_SUFFIXES)}")
    try:
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                if len(z.files) != 1:
                    raise ValueError(f"{what} {p} holds {len(z.files)} arrays {z.files}; expected exactly one")
                arr = z[z.files[0]]
        elif suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        elif suffix in (".pt", ".pth"):
            obj = torch_load_safe(p, what)
            if not isinstance(obj, Tensor):
                raise ValueError(f"{what} {p} holds a {type(obj).__name__}, not a tensor")
            arr = obj.detach().cpu().numpy()
        else:
            arr = np.loadtxt(p, delimiter="," if suffix == ".csv" else None, dtype=np.float64, ndmin=2)
    except ValueError as err:
        msg = _short(err)
        if msg.startswith(f"{what} {p}"):
            raise
        if "pickle" in msg.lower():
            raise ValueError(f"{what} {p} holds Python objects that only load by unpickling; refused "
                             f"(allow_pickle=False)") from err
        raise ValueError(f"{what} {p} is truncated or malformed ({msg})") from err
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{what} {p} is truncated or malformed ({_short(err)})") from err
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{what} {p} has dtype {arr.dtype}; expected a numeric (int or float) matrix")
    if arr.ndim != 2:
        raise ValueError(f"{what} {p} has {arr.ndim} dimensions (shape {arr.shape}); expected a 2-D matrix")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{what} {p} has {int(bad.sum())} non-finite entries (NaN or inf), first at "
                         f"[{i}, {j}]")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
