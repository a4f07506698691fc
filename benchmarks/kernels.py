"""Time every exact tangent-kernel method in one run and print ratios and peak memory.

    PYTHONPATH=$PWD nice -n 10 python benchmarks/kernels.py            # 2AF 768 + sMNIST 2000 (~2 min)
    PYTHONPATH=$PWD nice -n 10 python benchmarks/kernels.py --quick    # skip the authors' 30 s loop
    PYTHONPATH=$PWD nice -n 10 python benchmarks/kernels.py --full     # + slow loops on sMNIST (~10 min)

Cases: the 2AF kernel over ``W_h`` (N = 300, 8 steps x 32 trials x 3 outputs = 768 rows, Neurogym
probe inputs) and over all parameters; the sMNIST-shape kernel (N = 300, 28 steps of 28 inputs,
200 trials, 10 outputs at the last step = 2000 rows). Methods:

* ``rlnet``: :func:`rlnet.measures.ntk.rnn_tangent_kernel` (hand adjoints + blocked symmetric time-mix);
* ``authors_loop_cat``: one ``autograd.grad`` per output, rows appended with ``torch.cat``, as the
  authors' ``main.py`` builds ``K0`` (its forward pass here runs on the 32 kernel trials only);
* ``loop_prealloc``: the same loop writing into a preallocated Jacobian;
* ``jacrev_vmap``: ``torch.func`` per-trial ``jacrev`` under ``vmap`` (the PyTorch NTK tutorial);
* ``ntk_vp``: ``torch.func`` NTK-vector products (``vjp`` then ``jvp``), 2AF only.

Peak memory is the growth of the peak resident set during one run of the method, measured in a
child process (Linux ``/proc/self/clear_refs``; the allocator's peak on CUDA; the authors' loop is
not repeated there: ``nan``); timings are medians, one torch thread. Every result is checked
against ``rlnet``'s kernel (relative Frobenius error printed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from torch import Tensor

from rlnet.measures.ntk import rnn_tangent_kernel
from rlnet.measures.ntk_generic import functional_kernel
from rlnet.nets.rnn import rnn_forward


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def peak_mb(fn: Callable[[], Tensor]) -> tuple[Tensor, float]:
    """Run ``fn`` once; return its result and the growth of peak memory in MB: the device's
    allocator peak on CUDA, the process's peak RSS on CPU (nan if unavailable)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        out = fn()
        torch.cuda.synchronize()
        return out, (torch.cuda.max_memory_allocated() - base) / 2**20
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        base = _status_kb("VmRSS")
        out = fn()
        return out, (_status_kb("VmHWM") - base) / 1024
    except OSError:
        return fn(), float("nan")


def timed(fn: Callable[[], Tensor], repeats: int) -> tuple[Tensor, float, float]:
    out, mem = peak_mb(fn)
    ts = []
    sync = torch.cuda.synchronize if torch.cuda.is_available() and torch.cuda.is_initialized() else (lambda: None)
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return out, statistics.median(ts), mem


def net_weights(N: int, I: int, O: int, g: float = 1.25, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    W_h = torch.randn(1, N, N, generator=gen) * g / N**0.5  # generated on CPU, moved by the caller
    W_x = (torch.rand(1, N, I, generator=gen) * 2 - 1) / I**0.5
    W_o = (torch.rand(1, O, N, generator=gen) * 2 - 1) / N**0.5
    return W_h, W_x, W_o


def _outputs(W_h: Tensor, W_x: Tensor, W_o: Tensor, x: Tensor, last: bool) -> Tensor:
    y, _ = rnn_forward(W_h[None], W_x[None], W_o[None], x, leak=0.0, gain=1.0)
    return y[0][-1:] if last else y[0]  # (T or 1, B, O)


def authors_loop(W: tuple[Tensor, Tensor, Tensor], x: Tensor, last: bool, prealloc: bool) -> Tensor:
    """Per-output ``autograd.grad`` over ``W_h``; rows ``(t, b, k)`` as in the authors' code."""
    W_h = W[0][0].clone().requires_grad_()
    out = _outputs(W_h, W[1][0], W[2][0], x, last)
    Tn, B, O = out.shape
    if prealloc:
        J = torch.empty(Tn * B * O, *W_h.shape, device=W_h.device)
    df = None
    i = 0
    for t in range(Tn):
        for b in range(B):
            for k in range(O):
                (g,) = torch.autograd.grad(out[t, b, k], W_h, retain_graph=True)
                if prealloc:
                    J[i] = g
                else:  # the authors' pattern: grow the Jacobian one row at a time
                    df = g[None] if df is None else torch.cat((df, g[None]), dim=0)
                i += 1
    J = J if prealloc else df
    Jf = J.reshape(J.shape[0], -1)
    return Jf @ Jf.T


def tb_to_bt(K: Tensor, T: int, B: int, O: int) -> Tensor:
    """Reorder rows and columns from ``(t, b, k)`` to rlnet's ``(b, t, k)``."""
    perm = torch.arange(T * B * O, device=K.device).reshape(T, B, O).permute(1, 0, 2).reshape(-1)
    return K[perm][:, perm]


def func_kernel(W: tuple[Tensor, Tensor, Tensor], x: Tensor, last: bool, params: str, method: str) -> Tensor:
    names = ("W_h", "W_x", "W_o")
    p = {n: w[0] for n, w in zip(names, W)}
    chosen = {"W_h": p["W_h"]} if params == "W_h" else p

    def fn(pp: dict[str, Tensor], xx: Tensor) -> Tensor:
        q = {**p, **pp}
        return _outputs(q["W_h"], q["W_x"], q["W_o"], xx, last).transpose(0, 1)  # (B, steps, O)

    return functional_kernel(fn, chosen, x, trial_dim=1, method=method)


def method_fn(m: str, W: tuple[Tensor, Tensor, Tensor], x: Tensor, last: bool, params: str) -> Callable[[], Tensor]:
    T, B, _ = x.shape
    Tn, O = (1 if last else T), W[2].shape[1]
    if m in ("authors_loop_cat", "loop_prealloc"):
        return lambda: tb_to_bt(authors_loop(W, x, last, prealloc=m == "loop_prealloc"), Tn, B, O)
    return lambda: func_kernel(W, x, last, params, "jacobian" if m == "jacrev_vmap" else "ntk_vp")


def rel(a: Tensor, b: Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def run_case(name: str, W: tuple[Tensor, Tensor, Tensor], x: Tensor, *, last: bool, params: str,
             methods: list[str], repeats: int, memory_only: bool = False) -> list[dict]:
    steps = "last" if last else "all"
    rows = []

    def fast() -> Tensor:
        return rnn_tangent_kernel(*W, x, leak=0.0, gain=1.0, params=params, steps=steps)[0]

    if memory_only:  # one run each, peak memory only (the authors' 5-minute loop is left out)
        rows = [{"case": name, "method": "rlnet", "mb": peak_mb(fast)[1]}]
        for m in methods:
            if m == "authors_loop_cat":
                continue
            f = method_fn(m, W, x, last, params)
            rows.append({"case": name, "method": m, "mb": peak_mb(f)[1]})
        return rows
    K, t_fast, m_fast = timed(fast, repeats)
    rows.append({"case": name, "method": "rlnet", "s": t_fast, "mb": m_fast, "err": 0.0})
    for m in methods:
        f = method_fn(m, W, x, last, params)
        reps = 1 if m in ("authors_loop_cat", "loop_prealloc") else max(1, repeats // 3)
        Km, t, mem = timed(f, reps)
        rows.append({"case": name, "method": m, "s": t, "mb": mem, "err": rel(Km, K)})
        print(f"  {name} {m}: {t:.3f} s", flush=True)
    for r in rows:
        r["ratio"] = r["s"] / t_fast
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the authors' torch.cat loop (about 30 s)")
    ap.add_argument("--full", action="store_true", help="also the per-output loops on sMNIST (minutes)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cases", default="2af,2af_all,smnist", help="comma-separated subset of 2af,2af_all,smnist")
    ap.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.set_float32_matmul_precision("highest")
    dev = torch.device(a.device)

    cases = set(a.cases.split(","))
    rows: list[dict] = []
    if cases & {"2af", "2af_all"}:
        from rlnet.data import NeurogymDataModule

        x2af, _ = NeurogymDataModule(task="2af", n_probe=32).probe_batch()  # (8, 32, 3)
        W2af = tuple(w.to(dev) for w in net_weights(300, 3, 3))
        x2af = x2af.to(dev)
    if "2af" in cases:
        loops = [] if a.quick else ["authors_loop_cat"]
        rows += run_case("2AF 768 W_h", W2af, x2af, last=False, params="W_h",
                         methods=[*loops, "loop_prealloc", "jacrev_vmap", "ntk_vp"], repeats=a.repeats,
                         memory_only=a.memory_only)
    if "2af_all" in cases:
        rows += run_case("2AF 768 all", W2af, x2af, last=False, params="all", methods=["jacrev_vmap"],
                         repeats=a.repeats, memory_only=a.memory_only)
    if "smnist" in cases:
        gen = torch.Generator().manual_seed(1)
        xs = torch.rand(28, 200, 28, generator=gen).to(dev)
        Ws = tuple(w.to(dev) for w in net_weights(300, 28, 10))
        smethods = (["authors_loop_cat", "loop_prealloc"] if a.full else []) + ["jacrev_vmap"]
        rows += run_case("sMNIST 2000 W_h", Ws, xs, last=True, params="W_h", methods=smethods,
                         repeats=max(1, a.repeats // 2), memory_only=a.memory_only)
    if a.memory_only:
        print("MEMORY " + json.dumps({f"{r['case']}|{r['method']}": r["mb"] for r in rows}))
        return
    # Peak memory in a fresh process whose large buffers come straight from mmap, so that freed
    # memory leaves the resident set and each method's peak is its own (timings stay here: that
    # setting makes every large allocation fault its pages in again).
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-only", "--cases", a.cases, "--device", a.device]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    mem = next((json.loads(ln[7:]) for ln in res.stdout.splitlines() if ln.startswith("MEMORY ")), {})
    for r in rows:
        r["mb"] = mem.get(f"{r['case']}|{r['method']}", float("nan"))

    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} thread(s), device {dev}; medians")
    head = f"{'case':<16} {'method':<17} {'time s':>9} {'x rlnet':>9} {'peak MB':>9} {'rel err':>9}"
    print(head + "\n" + "-" * len(head))
    for r in rows:
        print(f"{r['case']:<16} {r['method']:<17} {r['s']:>9.4f} {r['ratio']:>9.1f} {r['mb']:>9.0f} {r['err']:>9.1e}")


if __name__ == "__main__":
    main()
