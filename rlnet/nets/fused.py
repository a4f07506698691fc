"""The fused C kernels of the training step, built at first use: the RNN's forward and backward
through time (``rlnet/nets/_fused_rnn.c``) and the ensemble's SGD update with its divergence check
(``rlnet/models/_member_sgd.c``, beside the optimiser :mod:`rlnet.models.member_sgd`). Both build into
one library, so one compiler call and one cache entry serve both.

The sources ship with the package. The first call compiles them with the machine's C compiler
(``cc -O3 -march=native``, a few seconds) into the user cache,
``$XDG_CACHE_HOME/rlnet`` or ``~/.cache/rlnet`` (a temporary directory if that is not writable),
keyed by the sources' hash, the compiler's version and the CPU's flags. Without a compiler, without
AVX-512, or with ``RLNET_FUSED=0``, :func:`library` returns ``None`` and :mod:`rlnet.nets.bptt`
runs its torch path, more slowly (``benchmarks/bench_training.py``), equal to float32 rounding per
step (``tests/test_fused_rnn.py``) but not bit for bit: over 10,000 steps that rounding moves a
network's KA by up to tens of percent and can send one near a plateau to another outcome
(``paper/checks/fused_vs_torch_path.txt``), so runs on the two paths compare only over seeds.
:class:`rlnet.models.member_sgd.MemberSGD` then runs torch's SGD and a separate check.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import torch

_PACKAGE = Path(__file__).resolve().parent.parent  # the rlnet package directory
SOURCES = [_PACKAGE / "nets" / "_fused_rnn.c", _PACKAGE / "models" / "_member_sgd.c"]
FLAGS = ["-O3", "-march=native", "-mprefer-vector-width=512", "-shared", "-fPIC", "-std=c11"]
_lock = threading.Lock()

_P = ctypes.c_void_p
_I = ctypes.c_int
_L = ctypes.c_long
_F = ctypes.c_float
_SIGNATURES = {
    "rlnet_fused_available": [],
    "rlnet_transpose": [_I, _I, _P, _P],
    "rlnet_gemm": [_I, _I, _I, _P, _P, _P, _I, _I, _I],
    "rlnet_forward": [_I, _I, _I, _I, _I, _I, _I, _P, _P, _P, _P, _L, _F, _F, _I, _P, _P, _L],
    "rlnet_backward": [_I, _I, _I, _I, _I, _I, _I, _P, _P, _P, _L, _F, _F, _I, _P, _P, _P, _L, _P, _P, _P],
    "rlnet_member_sgd": [_I, _I, _I, _P, _P, _P, _P, _F, _F, _I, _P, _P],
}


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "rlnet"


def cpuinfo_line(field: str) -> str:
    """The first line of /proc/cpuinfo starting with ``field`` (whole, with its name), or ''."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith(field)), "")
    except OSError:
        return ""


def _compile(cc: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
    os.close(fd)
    try:
        subprocess.run([cc, *FLAGS, "-o", tmp, *map(str, SOURCES)], check=True, capture_output=True, timeout=120)
        os.replace(tmp, out)  # atomic: concurrent processes never load a half-written library
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@lru_cache(maxsize=1)
def library() -> ctypes.CDLL | None:
    """The compiled kernels, or ``None`` where they cannot run here (see the module docstring)."""
    if os.environ.get("RLNET_FUSED", "1") == "0":
        return None
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
        key = hashlib.sha256(b"".join(src.read_bytes() for src in SOURCES) + " ".join(FLAGS).encode() + version.encode()
                             + cpuinfo_line("flags").encode()).hexdigest()[:16]
    except (OSError, subprocess.SubprocessError):
        return None  # no usable compiler: the torch path
    name = f"fused_rnn-{key}.so"
    try:
        path = _cache_dir() / name
        with _lock:
            if not path.exists():
                try:
                    _compile(cc, path)
                except PermissionError:  # a read-only cache: build for this process only
                    path = Path(tempfile.mkdtemp(prefix="rlnet-")) / name
                    _compile(cc, path)
        lib = ctypes.CDLL(str(path))
    except (OSError, subprocess.SubprocessError) as err:
        detail = getattr(err, "stderr", b"") or b""
        warnings.warn(f"rlnet: building the fused kernels failed, using the slower torch path: {err} "
                      f"{detail.decode(errors='replace')[-500:]}", RuntimeWarning, stacklevel=2)
        return None
    for name, args in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, _I
    return lib if lib.rlnet_fused_available() == 1 else None


_POOL: list = [None, 0]  # a persistent pool: the kernels keep per-thread scratch between calls


def _pool(n: int) -> ThreadPoolExecutor:
    if _POOL[1] != n:
        if _POOL[0] is not None:
            _POOL[0].shutdown()
        _POOL[:] = [ThreadPoolExecutor(n, thread_name_prefix="rlnet-fused"), n]
    return _POOL[0]


def over_members(fn: Callable[[int, int], int], E: int) -> None:
    """Run the kernel call ``fn(e0, e1)`` over member ranges, one per torch thread (ctypes releases
    the GIL); a nonzero return code (a failed allocation) raises."""
    n = max(1, min(torch.get_num_threads(), E))
    bounds = [E * k // n for k in range(n + 1)]
    codes = [fn(0, E)] if n == 1 else list(_pool(n).map(fn, bounds[:-1], bounds[1:]))
    if any(c != 0 for c in codes):
        raise MemoryError(f"rlnet fused kernel failed (code {codes}): out of memory")
