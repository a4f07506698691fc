"""Training speed of rlnet against this machine's matrix-product rate and a plain PyTorch loop.

``python benchmarks/bench_training.py`` prints, all measured in the same run:

1. the fp32 matrix-product rate (1024^3 GEMM; the best 5-product window of 3 s, per process, and
   the sustained rate over the 3 s), one process, and one process per core at once, before and
   after (2);
2. rlnet's training FLOP rate (the real ``Trainer.fit`` loop of an ensemble: Neurogym data,
   hand-written BPTT, SGD; the mean over 150 steps) in one process per core at once, and its ratio
   to the mean of the GEMM rates before and after, and to the GEMM rate measured inside the same
   processes in blocks between its steps (the matched ratio: the same seconds, so the same drift of
   this shared machine's speed);
   also one process with two threads, the torch BPTT instead of the fused C kernels
   (``RLNET_FUSED=0``), and plain autograd instead of the hand-written BPTT;
3. one network (2AF, N = 300, batch 32): rlnet's ``Trainer.fit`` against a plain PyTorch loop
   written like the authors' (``nn.Linear`` CTRNN, a ``neurogym.Dataset`` batch each step, SGD),
   alternated over several rounds; medians.

FLOPs are counted analytically (multiply-adds x 2) for the products only: per member and step,
``2 T B N I`` (input), ``2 (T - 1) B N^2`` (recurrence; ``W_h r_{-1} = 0`` is skipped), ``2 T B N O``
(readout), three times each (forward, gradient w.r.t. activity, gradient w.r.t. weights; the input
product needs no activity gradient, counted anyway as an upper bound of < 1 %).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEMM_BLOCK = 20  # products per block of the matched ratio's GEMM (about 0.2 s)


def train_flops_per_step(E: int, T: int, B: int, N: int, I: int, O: int) -> float:
    """FLOPs of one SGD step of ``E`` members (see the module docstring)."""
    return 3.0 * E * (2 * T * B * N * I + 2 * (T - 1) * B * N * N + 2 * T * B * N * O)


def _setup(threads: int, fused: bool = True) -> None:
    sys.path.insert(0, REPO)
    os.environ.setdefault("WANDB_MODE", "disabled")
    os.environ["RLNET_FUSED"] = "1" if fused else "0"  # each run is its own spawned process
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(threads)


def gemm_rate(threads: int = 1, seconds: float = 3.0, n: int = 1024) -> dict:
    """fp32 ``n^3`` GEMM rate, GFLOP/s: ``wall`` (the best 5-product window), ``mean`` (sustained:
    all products over the whole wall time) and ``cpu`` (per CPU-second)."""
    _setup(threads)
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best, count, t0, c0 = 0.0, 0, time.perf_counter(), time.process_time()
    while time.perf_counter() < t0 + seconds:
        t = time.perf_counter()
        for _ in range(5):
            a @ b
        count += 5
        best = max(best, 5 * 2 * n**3 / (time.perf_counter() - t) / 1e9)
    flop = count * 2 * n**3 / 1e9
    return {"wall": best, "mean": flop / (time.perf_counter() - t0), "cpu": flop / (time.process_time() - c0)}


def rlnet_train(task: str = "2af", members: int = 20, steps: int = 60, warmup: int = 10, threads: int = 1,
                bptt: bool = True, num_workers: int = 0, seed: int = 0, generator: str = "vectorized",
                fused: bool = True, gemm_every: int = 0, gemm_products: int = GEMM_BLOCK, n: int = 1024,
                barrier=None) -> dict:
    """Seconds per step of rlnet's ``Trainer.fit`` (Lightning loop + data + model), after ``warmup``.

    With ``gemm_every > 0``, blocks of ``gemm_products`` ``n^3`` GEMMs run in the same process
    before the first timed step, every ``gemm_every`` steps and after the last: the GEMM's rate over
    its blocks (``gemm_gflops``) and training's rate over the steps between them (the blocks' time
    is taken out of the training's) then come from the same seconds of the same process, so the
    machine's drift from other tenants falls on both alike. ``barrier`` (shared by processes run at
    once) starts and ends each block in all of them together: the GEMMs run beside GEMMs and the
    training beside training, as in separate measurements."""
    _setup(threads, fused)
    import lightning as L
    import torch

    from rlnet.data import NeurogymDataModule
    from rlnet.models import RNNModule

    data = NeurogymDataModule(task=task, batch_size=32, seed=seed, num_workers=num_workers, generator=generator)
    model = RNNModule(n_input=data.n_input, n_output=data.n_output, n_hidden=300,
                      seeds=list(range(seed, seed + members)), bptt=bptt)
    marks: dict[str, float] = {"gemm_s": 0.0, "gemm_n": 0, "pause_s": 0.0, "pause_cpu_s": 0.0}
    a, b = (torch.randn(n, n), torch.randn(n, n)) if gemm_every else (None, None)

    def gemm_block() -> None:
        p, pc = time.perf_counter(), time.process_time()
        if barrier is not None:
            barrier.wait(timeout=300)
        t = time.perf_counter()
        for _ in range(gemm_products):
            a @ b
        marks["gemm_s"] += time.perf_counter() - t
        marks["gemm_n"] += gemm_products
        if barrier is not None:
            barrier.wait(timeout=300)
        marks["pause_s"] += time.perf_counter() - p
        marks["pause_cpu_s"] += time.process_time() - pc

    class Clock(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if batch_idx == warmup:
                if gemm_every:
                    for _ in range(3):  # warm-up products, not timed
                        a @ b
                marks["t0"], marks["c0"] = time.perf_counter(), time.process_time()
            if gemm_every and batch_idx >= warmup and (batch_idx - warmup) % gemm_every == 0:
                gemm_block()

        def on_train_end(self, trainer, pl_module):
            if gemm_every:
                gemm_block()
            marks["t1"], marks["c1"] = time.perf_counter(), time.process_time()

    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, callbacks=[Clock()],
                        log_every_n_steps=500)
    trainer.fit(model, datamodule=data)
    s = (marks["t1"] - marks["t0"] - marks["pause_s"]) / (steps - warmup)
    T = data.seq_len
    flops = train_flops_per_step(members, T, 32, 300, data.n_input, data.n_output)
    out = {"s_per_step": s, "cpu_s_per_step": (marks["c1"] - marks["c0"] - marks["pause_cpu_s"]) / (steps - warmup),
           "flops_per_step": flops}
    if gemm_every:
        out["gemm_gflops"] = marks["gemm_n"] * 2 * n**3 / marks["gemm_s"] / 1e9
        out["gemm_blocks"], out["pause_s"] = marks["gemm_n"] // gemm_products, marks["pause_s"]
    return out


def plain_loop(steps: int = 60, warmup: int = 10, threads: int = 1) -> dict:
    """The authors' style: an ``nn.Linear`` CTRNN, a ``neurogym.Dataset`` batch each step, SGD."""
    _setup(threads)
    import neurogym as ngym
    import torch
    from torch import nn

    from rlnet.data.neurogym_tasks import TASKS

    spec = TASKS["2af"]
    dataset = ngym.Dataset(spec.env_id, env_kwargs={"dt": 100, "timing": dict(spec.timing)}, batch_size=32,
                           seq_len=8)
    env = dataset.env
    I, O, N = env.observation_space.shape[0], env.action_space.n, 300

    class CTRNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.input2h, self.h2h, self.fc = nn.Linear(I, N), nn.Linear(N, N), nn.Linear(N, O)

        def forward(self, x):
            h = torch.zeros(x.shape[1], N)
            out = []
            for t in range(x.shape[0]):
                h = torch.relu(self.input2h(x[t]) + self.h2h(h))
                out.append(h)
            return self.fc(torch.stack(out))

    net = CTRNN()
    opt = torch.optim.SGD(net.parameters(), lr=3e-3, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    for i in range(steps):
        if i == warmup:
            t0, c0 = time.perf_counter(), time.process_time()
        inputs, labels = dataset()
        inputs, labels = torch.from_numpy(inputs).float(), torch.from_numpy(labels.flatten()).long()
        opt.zero_grad()
        loss = crit(net(inputs).view(-1, O), labels)
        loss.backward()
        opt.step()
    return {"s_per_step": (time.perf_counter() - t0) / (steps - warmup),
            "cpu_s_per_step": (time.process_time() - c0) / (steps - warmup)}


def concurrently(fn, kwargs_list: list[dict]) -> list:
    """Run ``fn(**kw)`` for each ``kw`` in its own process, all at once."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(len(kwargs_list)) as pool:
        handles = [pool.apply_async(fn, (), kw) for kw in kwargs_list]
        return [h.get() for h in handles]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=20, help="ensemble size per process")
    p.add_argument("--steps", type=int, default=150, help="timed steps per ensemble run (about 3 s)")
    p.add_argument("--single_steps", type=int, default=300, help="timed steps per single-network round")
    p.add_argument("--rounds", type=int, default=3, help="alternations of the single-network comparison")
    p.add_argument("--procs", type=int, default=2, help="processes, one per core")
    p.add_argument("--quick", action="store_true", help="skip the 2-thread and autograd variants")
    p.add_argument("--gemm_every", type=int, default=25,
                   help="GEMM blocks between this many training steps, for the matched ratio (0: none)")
    a = p.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start. Other users' load "
          "lowers every wall-clock figure: read the ratios, and the CPU-time figures (work per CPU-second).")
    g1 = gemm_rate(1)
    g_all = concurrently(gemm_rate, [{"threads": 1}] * a.procs)
    gw, gc = sum(g["wall"] for g in g_all), sum(g["cpu"] for g in g_all)
    print(f"fp32 GEMM 1024^3: one process {g1['wall']:.1f} GFLOP/s (wall) {g1['cpu']:.1f} (CPU); "
          f"{a.procs} processes at once {gw:.1f} (wall) {gc:.1f} (CPU)")

    warm = max(5, a.steps // 4)
    kw = {"members": a.members, "steps": a.steps + warm, "warmup": warm}
    with mp.get_context("spawn").Manager() as manager:
        barrier = manager.Barrier(a.procs) if a.gemm_every else None
        runs = concurrently(rlnet_train, [dict(kw, task=t, seed=10 * i, gemm_every=a.gemm_every, barrier=barrier)
                                          for i, t in zip(range(a.procs), ["2af", "dms", "cxt", "2af"] * a.procs)])
    rate_w = sum(r["flops_per_step"] / r["s_per_step"] for r in runs) / 1e9
    rate_c = sum(r["flops_per_step"] / r["cpu_s_per_step"] for r in runs) / 1e9
    ms_net = statistics.fmean(r["s_per_step"] / a.members for r in runs) * 1e3
    # The GEMM again after the training runs: the machine's speed drifts by 10-20 % from minute to
    # minute, so the headline ratio is against the mean of the two measurements that bracket it.
    g_after = concurrently(gemm_rate, [{"threads": 1}] * a.procs)
    gw2, gc2 = sum(g["wall"] for g in g_after), sum(g["cpu"] for g in g_after)
    gw_m, gc_m = (gw + gw2) / 2, (gc + gc2) / 2
    gs_m = sum(g["mean"] for g in g_all + g_after) / 2  # sustained GEMM rate, before and after
    print(f"rlnet training, ensembles of {a.members}, {a.procs} processes x 1 thread: {rate_w:.1f} GFLOP/s (wall), "
          f"{rate_c:.1f} (CPU); {ms_net:.2f} ms per network-step per process")
    print(f"  GEMM rate again after the training runs: {gw2:.1f} GFLOP/s (wall) {gc2:.1f} (CPU)")
    if a.gemm_every:
        gm = sum(r["gemm_gflops"] for r in runs)
        print(f"  matched ratio: {rate_w / gm:.0%} of the GEMM rate measured in the same processes, between the "
              f"same steps ({gm:.1f} GFLOP/s: blocks of {GEMM_BLOCK} products, all processes together, before "
              f"the first timed step, every {a.gemm_every} steps and after the last)")
    print(f"  ratio to the GEMM rate on {a.procs} cores (mean of before and after): {rate_w / gw_m:.0%} (wall), "
          f"{rate_c / gc_m:.0%} (CPU); against before only {rate_w / gw:.0%}, after only {rate_w / gw2:.0%} (wall); "
          f"against the GEMM's sustained rate (all its products over its whole time, {gs_m:.1f}) "
          f"{rate_w / gs_m:.0%}")
    if not a.quick:
        r2 = concurrently(rlnet_train, [dict(kw, members=a.members * a.procs, threads=a.procs)])[0]
        rate2 = r2["flops_per_step"] / r2["s_per_step"] / 1e9
        print(f"  one process x {a.procs} threads, ensemble of {a.members * a.procs}: {rate2:.1f} GFLOP/s (wall), "
              f"{rate2 / rate_w:.2f}x the rate of one process per core")
        ra = concurrently(rlnet_train, [dict(kw, bptt=False)])[0]
        rt = concurrently(rlnet_train, [dict(kw, fused=False)])[0]
        rb = concurrently(rlnet_train, [dict(kw, bptt=True)])[0]
        for name, r in (("the torch BPTT", rt), ("autograd", ra)):
            print(f"  one process, {a.members} members, fused kernels vs {name}: {rb['s_per_step'] * 1e3:.1f} vs "
                  f"{r['s_per_step'] * 1e3:.1f} ms per step wall ({r['s_per_step'] / rb['s_per_step']:.2f}x), "
                  f"{rb['cpu_s_per_step'] * 1e3:.1f} vs {r['cpu_s_per_step'] * 1e3:.1f} ms CPU "
                  f"({r['cpu_s_per_step'] / rb['cpu_s_per_step']:.2f}x)")

    res: dict[str, list[dict]] = {"rlnet (vectorized data)": [], "rlnet (neurogym data)": [], "plain loop": []}
    n = a.single_steps
    for _ in range(a.rounds):
        for gen in ("vectorized", "neurogym"):
            res[f"rlnet ({gen} data)"].append(concurrently(
                rlnet_train, [{"members": 1, "steps": n + 20, "warmup": 20, "generator": gen}])[0])
        res["plain loop"].append(concurrently(plain_loop, [{"steps": n + 20, "warmup": 20}])[0])
    med = {k: (statistics.median(r["s_per_step"] for r in v) * 1e3,
               statistics.median(r["cpu_s_per_step"] for r in v) * 1e3) for k, v in res.items()}
    pw, pc = med["plain loop"]
    print(f"one network, 2AF, N=300, batch 32 (medians of {a.rounds} alternated rounds of {n} steps):")
    for k, (w, c) in med.items():
        print(f"  {k:24s} {w:6.2f} ms/step wall, {c:6.2f} ms CPU; speed vs the plain loop: "
              f"{pw / w:.2f}x (wall) {pc / c:.2f}x (CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
