"""Where one training step of an ensemble goes: data, forward, loss, backward, optimizer.

``python benchmarks/bench_step_parts.py`` runs the parts of ``RNNModule``'s step by hand (one
process, one thread, 20 members of N = 300, 2AF, batch 32, vectorized data) and prints the median
time of each. The optimizer is timed two ways, alternated step by step in the same run:
``MemberSGD`` with the divergence check in its pass (what rlnet runs) and the check as a separate
pass before torch's fused SGD (what it ran before). Both give the same weights
(``tests/test_member_sgd.py``); here they take turns on the same weights with separate momenta, so
the trajectory is not a real run's, but each step does a real step's work.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=20)
    p.add_argument("--steps", type=int, default=200, help="timed steps (after 30 warm-up steps)")
    a = p.parse_args(argv)
    sys.path.insert(0, REPO)
    os.environ.setdefault("WANDB_MODE", "disabled")
    warnings.simplefilter("ignore")
    import torch

    from rlnet.data import NeurogymDataModule
    from rlnet.models import RNNModule, divergence

    torch.set_num_threads(1)
    data = NeurogymDataModule(task="2af", batch_size=32, seed=0, generator="vectorized")
    model = RNNModule(n_input=data.n_input, n_output=data.n_output, n_hidden=300, seeds=list(range(a.members)))
    fused_opt = model.configure_optimizers()
    plain = torch.optim.SGD(model.parameters(), lr=model.lr, momentum=model.momentum, fused=True)
    data.setup("fit")
    batches = iter(data.train_dataloader())
    parts: dict[str, list[float]] = {k: [] for k in ("data", "forward", "loss", "backward", "check + SGD (MemberSGD)",
                                                      "check, then torch's SGD")}
    params = list(model.parameters())
    for i in range(a.steps + 30):
        t0 = time.perf_counter()
        x, y = next(batches)
        t1 = time.perf_counter()
        y_hat, _ = model.net(x)
        t2 = time.perf_counter()
        alive = model.diverged_step == divergence.NOT_DIVERGED
        loss = divergence.masked_loss(model.member_losses(y_hat, y), alive)
        t3 = time.perf_counter()
        loss.backward()
        t4 = time.perf_counter()
        if i % 2 == 0:
            fused_opt.check_next_step(alive, lambda finite: None)
            fused_opt.step()
            name = "check + SGD (MemberSGD)"
        else:
            divergence.grads_finite_per_member(params, model.n_members, alive.device)
            plain.step()
            name = "check, then torch's SGD"
        t5 = time.perf_counter()
        fused_opt.zero_grad()
        if i >= 30:
            for k, (s, e) in zip(("data", "forward", "loss", "backward", name), ((t0, t1), (t1, t2), (t2, t3),
                                                                                  (t3, t4), (t4, t5))):
                parts[k].append(e - s)
    print(f"one step of {a.members} networks (N=300, 2AF, batch 32), medians of {a.steps} steps, ms:")
    for k, v in parts.items():
        print(f"  {k:26s} {statistics.median(v) * 1e3:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
