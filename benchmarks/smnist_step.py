"""Time per training step of the sMNIST RNN (N = 300, batch 200, 28 steps, loss at the last step).

Wall and CPU time (``time.process_time``: what the step costs a core, less sensitive to a busy
machine), two settings from the same process: the bare step (forward, backward, SGD on a fixed batch) and the
step inside Lightning's Trainer with rlnet's MNISTDataModule (batch assembly included).
Run: ``PYTHONPATH=$PWD python benchmarks/smnist_step.py --steps 50``.
"""

from __future__ import annotations

import argparse
import time

import lightning as L
import torch

from rlnet.connectivity import SVDRank
from rlnet.data.mnist import MNISTDataModule
from rlnet.models import RNNModule


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--n_hidden", type=int, default=300)
    ap.add_argument("--members", type=int, default=1)
    ap.add_argument("--root", default="data")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dm = MNISTDataModule(root=a.root, source="auto")
    x, y = dm.train_batch(0)
    m = RNNModule(n_input=28, n_output=10, n_hidden=a.n_hidden, n_members=a.members, loss_steps="last",
                  connectivity=SVDRank(rank=None))
    opt = torch.optim.SGD(m.parameters(), lr=3e-3, momentum=0.9)
    for _ in range(3):  # warm-up
        opt.zero_grad()
        m.member_losses(m.net(x)[0], y).sum().backward()
        opt.step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        opt.zero_grad()
        m.member_losses(m.net(x)[0], y).sum().backward()
        opt.step()
    bare = (time.perf_counter() - t0) / a.steps
    bare_cpu = (time.process_time() - c0) / a.steps
    trainer = L.Trainer(max_steps=a.steps + 3, logger=False, enable_progress_bar=False, enable_checkpointing=False,
                        enable_model_summary=False, limit_val_batches=0, log_every_n_steps=100)
    t_start = {}

    class Clock(L.Callback):
        def on_train_batch_start(self, trainer, *args):
            if trainer.global_step == 3:
                t_start["t"], t_start["c"] = time.perf_counter(), time.process_time()

    trainer.callbacks.append(Clock())
    trainer.fit(m, datamodule=dm)
    lit = (time.perf_counter() - t_start["t"]) / a.steps
    lit_cpu = (time.process_time() - t_start["c"]) / a.steps
    print(f"sMNIST RNN N={a.n_hidden}, batch 200, members={a.members}, threads={a.threads}: "
          f"bare step {bare * 1e3:.1f} ms, Lightning step {lit * 1e3:.1f} ms (ratio {lit / bare:.2f}), "
          f"per member {bare * 1e3 / a.members:.1f} / {lit * 1e3 / a.members:.1f} ms; "
          f"CPU time per step {bare_cpu * 1e3:.1f} / {lit_cpu * 1e3:.1f} ms (what the step costs without contention)")


if __name__ == "__main__":
    main()
