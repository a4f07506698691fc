"""The fused C kernels of the RNN's forward and backward through time (``_fused_rnn.c``), built at first use.

The source ships with the package. The first call compiles it with the machine's C compiler
(``cc -O3 -march=native``, about 2.5 s on this machine) into the user cache,
``$XDG_CACHE_HOME/rlnet`` or ``~/.cache/rlnet`` (a temporary directory if that is not writable),
keyed by the source's hash, the compiler's version and the CPU's flags. Without a compiler, without
AVX-512, or with ``RLNET_FUSED=0``, :func:`library` returns ``None`` and :mod:`rlnet.nets.bptt`
runs its torch path, which gives the same results more slowly (``benchmarks/bench_training.py``).
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
from functools import lru_cache
from pathlib import Path

SOURCE = Path(__file__).with_name("_fused_rnn.c")
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
}


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "rlnet"


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return ""


def _compile(cc: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
    os.close(fd)
    try:
        subprocess.run([cc, *FLAGS, "-o", tmp, str(SOURCE)], check=True, capture_output=True, timeout=120)
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
        key = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode() + version.encode()
                             + _cpu_flags().encode()).hexdigest()[:16]
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
        warnings.warn(f"rlnet: building the fused RNN kernels failed, using the slower torch path: {err} "
                      f"{detail.decode(errors='replace')[-500:]}", RuntimeWarning, stacklevel=2)
        return None
    for name, args in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, _I
    return lib if lib.rlnet_fused_available() == 1 else None
