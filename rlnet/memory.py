"""How much memory a run needs, and how much the machine has: checked before anything is allocated.

A run's memory is dominated by a few products of its sizes (``E`` members, ``N`` hidden units, ``T``
steps, ``B`` trials per batch, ``M = kernel_trials * T * n_output`` kernel rows):

* weights: ``E * N^2`` (recurrent) plus the input and output weights, each held four times during
  training (the parameters, their gradients, SGD's momentum, the laziness snapshot of the initial
  weights);
* backpropagation through time: the states and rates of every step, ``E * T * B * N`` each, and the
  gradients of both;
* the laziness probe: the rates at every probe step before and after training, ``2 * E * T * n_probe * N``;
* the tangent kernels at the start and the end: ``2 * E * M^2`` float64 entries;
* the validation batch, generated whole: its inputs and the rates of every member, ``E * T * n_val * N``.

These are lower bounds (temporaries come on top): a run refused here could never have finished,
instead of growing for minutes or ending in an allocation traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

_CGROUP_V2 = Path("/sys/fs/cgroup")


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_available() -> int | None:
    """What the container's memory limit (cgroup v2, else v1) still allows, if it has one."""
    for limit_f, usage_f in ((_CGROUP_V2 / "memory.max", _CGROUP_V2 / "memory.current"),
                             (_CGROUP_V2 / "memory" / "memory.limit_in_bytes",
                              _CGROUP_V2 / "memory" / "memory.usage_in_bytes")):
        try:
            limit, usage = limit_f.read_text().strip(), usage_f.read_text().strip()
        except OSError:
            continue
        if limit.isdigit() and usage.isdigit() and int(limit) < 2**60:
            return max(0, int(limit) - int(usage))
    return None


MEMORY_SHARE_ENV = "RLNET_MEMORY_SHARE"


def memory_share() -> int:
    """How many runs share the host's memory: ``RLNET_MEMORY_SHARE`` (``rlnet sweep --jobs J`` sets J
    for its children, which start together and each see the whole machine free), else 1."""
    raw = os.environ.get(MEMORY_SHARE_ENV, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def available_memory() -> int | None:
    """Bytes this process can still allocate on the host: ``MemAvailable`` (``/proc/meminfo``, else
    ``os.sysconf``), capped by the container's cgroup limit, divided by :func:`memory_share`;
    ``None`` if unknown."""
    values = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    return min(values) // memory_share() if values else None


def device_available_memory(device) -> int | None:
    """Free bytes on ``device`` (a ``torch.device``): the GPU's free memory for CUDA, else the host's
    (either divided by :func:`memory_share`: a sweep's runs at once share one GPU too)."""
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        try:
            return int(torch.cuda.mem_get_info(device)[0]) // memory_share()
        except (RuntimeError, AssertionError):
            return None
    return available_memory()


def fmt_bytes(n: float) -> str:
    """``1.8 TB``, ``512.0 MB`` (powers of 1000, as ``free -h --si``); ``10^42 B`` beyond petabytes."""
    if n >= 10**18:  # an absurd size (a time step of 1e-300): its order of magnitude, exactly
        return f"10^{len(str(int(n))) - 1} B"
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"  # pragma: no cover


def weight_bytes(n_params: int, bytes_per: int = 4, copies: int = 4) -> int:
    """Parameters held ``copies`` times (parameters, gradients, momentum, initial snapshot)."""
    return int(n_params) * bytes_per * copies


def fit_parts(n_params: int, n_members: int, n_hidden: int, seq_len: int | None = None,
              batch_size: int | None = None, n_probe: int | None = None, kernel_trials: int | None = None,
              n_output: int | None = None, n_val: int | None = None, bytes_per: int = 4,
              kernel_steps: str = "all") -> dict[str, int]:
    """Lower bounds, in bytes, of the parts of a run's memory (see the module's docstring); parts
    whose sizes are unknown (``None``) are left out. The kernel's rows cover every step of the
    probe trials, or only the last (``kernel_steps='last'``, sMNIST); a kernel takes the first
    ``kernel_trials`` probe trials, so never more than the ``n_probe`` there are."""
    E, N = int(n_members), int(n_hidden)
    parts = {"weights": weight_bytes(n_params, bytes_per)}
    if seq_len and batch_size:
        parts["backpropagation through time"] = 4 * E * int(seq_len) * int(batch_size) * N * bytes_per
    if seq_len and n_probe:
        parts["probe rates"] = 2 * E * int(seq_len) * int(n_probe) * N * bytes_per
    if seq_len and kernel_trials and n_output:
        trials = min(int(kernel_trials), int(n_probe)) if n_probe else int(kernel_trials)
        M = trials * (1 if kernel_steps == "last" else int(seq_len)) * int(n_output)
        parts["tangent kernels"] = 2 * E * M * M * 8
    if seq_len and n_val:
        parts["validation batch"] = E * int(seq_len) * int(n_val) * N * bytes_per
    return parts


def check_fits(parts: dict[str, int], available: int | None, hint: str, where: str = "memory") -> None:
    """``ValueError`` (one line, with the estimate) if the parts add up to more than ``available``."""
    total = sum(parts.values())
    if available is None or total <= available:
        return
    biggest = sorted(parts.items(), key=lambda kv: -kv[1])
    detail = ", ".join(f"{k} {fmt_bytes(v)}" for k, v in biggest if v > 0)
    raise ValueError(f"this run needs at least {fmt_bytes(total)} of {where} ({detail}) but {fmt_bytes(available)} "
                     f"is available; {hint}")
