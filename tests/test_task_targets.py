"""Task-alignment targets (Fig. 14/15) for modules whose labels the default protocol cannot read:
sMNIST's unlabelled steps (-1) and the linear network's regression targets. The references are
built element by element, independently of the modules' vectorised code."""

import torch

from rlnet.connectivity import Null
from rlnet.models import LinearModule, RNNModule


def test_rnn_targets_are_one_hot_with_zero_rows_for_unlabelled_steps():
    m = RNNModule(n_input=3, n_output=4, n_hidden=8, connectivity=Null())
    T, B, O = 5, 3, 4
    y = torch.full((T, B), -1, dtype=torch.long)
    y[-1] = torch.tensor([2, 0, 3])  # labels at the last step only, as sMNIST
    y[1, 1] = 1
    ref = []
    for b in range(B):  # kernel row order (b, t, k)
        for t in range(T):
            for k in range(O):
                ref.append(1.0 if int(y[t, b]) == k else 0.0)
    got = m.laziness_targets(y)
    assert torch.equal(got, torch.tensor(ref, dtype=got.dtype))
    last = m.laziness_targets(y, steps="last")
    assert torch.equal(last, torch.tensor([[1.0 if k == int(y[-1, b]) else 0.0 for k in range(O)] for b in range(B)],
                                          dtype=got.dtype).reshape(-1))


def test_linear_targets_are_the_regression_targets_in_sample_order():
    m = LinearModule(n_input=4, n_hidden=6, inits=["gaussian"], sigma=1e-2)
    y = torch.randn(1, 7, 1, generator=torch.Generator().manual_seed(0))
    got = m.laziness_targets(y)
    assert got.shape == (7,)
    assert [float(v) for v in got] == [float(y[0, i, 0]) for i in range(7)]
