"""The benchmarks' FLOP count (the numerator of every rate they print) against torch's own count."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from rlnet.nets.rnn import rnn_forward

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_training.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_training", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_train_flops_match_torch_flop_counter():
    """torch's FlopCounterMode over the autograd forward and backward of an ensemble step counts the
    same products, except the input product's activity gradient, which the benchmark's formula
    includes as an upper bound (the inputs need no gradient)."""
    E, T, B, N, I, O = 3, 5, 4, 7, 3, 2
    W_h, W_x, W_o = (torch.randn(E, *s, requires_grad=True) for s in ((N, N), (N, I), (O, N)))
    x = torch.randn(T, B, I)
    with FlopCounterMode(display=False) as counter:
        y, _ = rnn_forward(W_h, W_x, W_o, x, leak=0.0, gain=1.0)
        y.square().sum().backward()
    assert counter.get_total_flops() == _bench().train_flops_per_step(E, T, B, N, I, O) - 2 * E * T * B * N * I


def test_matched_gemm_blocks_are_taken_out_of_the_training_time(monkeypatch):
    """The matched ratio's GEMM blocks run before the first timed step, every ``gemm_every`` steps
    and after the last, and their time is not counted as training: here a block takes far longer
    than ``gemm_every`` training steps, so counting it would inflate the time per step past it."""
    for name, value in (("RLNET_FUSED", "1"), ("WANDB_MODE", "disabled")):
        monkeypatch.setenv(name, value)  # the benchmark sets both; restored after the test
    threads = torch.get_num_threads()
    try:
        r = _bench().rlnet_train(members=1, steps=14, warmup=4, gemm_every=4, gemm_products=40, n=512)
    finally:
        torch.set_num_threads(threads)
    assert r["gemm_blocks"] == 3 + 1  # before steps 4, 8 and 12, and after the last
    assert r["gemm_gflops"] > 0
    assert r["s_per_step"] * 4 < 0.5 * r["pause_s"] / r["gemm_blocks"]
