"""The linear RNN of Proposition 2 (App. B.2), read out at the last step only.

Inputs arrive at ``t = 1 .. T-1`` and the output is read at ``T``:

    h_1 = W_x x_1,  h_t = W_h h_{t-1} + W_x x_t  (t < T),  h_T = W_h h_{T-1},  y = w h_T,

so ``Y = w W_h sum_{t=1}^{T-1} W_h^{T-t-1} X_t`` (Eq. 25, with ``X_t = W_x x_t``): the output has rank
at most ``rank(W_h)``.
"""

from __future__ import annotations

from torch import Tensor


def linear_rnn_last_output(W_h: Tensor, W_x: Tensor, w: Tensor, x: Tensor) -> Tensor:
    """``y = w h_T`` for inputs ``x (T-1, m, I)``; ``W_h (N, N)``, ``W_x (N, I)``, ``w (O, N)``.
    Returns ``(m, O)``."""
    h = x[0] @ W_x.T
    for t in range(1, x.shape[0]):
        h = h @ W_h.T + x[t] @ W_x.T
    return (h @ W_h.T) @ w.T
