"""Closed forms for the two-layer linear student-teacher network (paper Sec. 2.3, App. B).

Notation of App. B: ``f(x) = W_2 W_1 x`` with ``W_1 (N, d)``, ``W_2 (O, N)`` (``O = 1`` in the
paper), teacher ``y = beta^T x``, ``beta_hat = beta / ||beta||``. Data are stored with *rows* as
samples, ``x (m, d)`` (the paper's ``X^T``). Every function accepts a leading member dimension.

* :func:`linear_tangent_kernel`: the empirical NTK, Eq. 7 (exact, any time during training).
* :func:`final_kernel`: the converged NTK after gradient flow from small init, Eq. 8.
* :func:`per_teacher_alignment`: KA for one teacher with whitened data, Eq. 14.
* :func:`expected_alignment`: its average over Gaussian teachers, Eq. 18/21 (Theorem 1).
* :func:`rank_one_alignment`: Eq. 14 at Prop. 1's rank-one init ``W_1 = sigma [u^T; 0; ...]``.
* :func:`frozen_rank_error_bound`: the error floor behind Prop. 2 (Eckart-Young).
"""

from __future__ import annotations

import torch
from torch import Tensor


def linear_tangent_kernel(W_1: Tensor, W_2: Tensor, x: Tensor, params: str = "all") -> Tensor:
    """Empirical tangent kernel of ``f(x) = W_2 W_1 x`` (Eq. 7, for any number of outputs).

    ``d y_k / d W_2[k', n] = delta_{kk'} h_n`` and ``d y_k / d W_1[n, j] = W_2[k, n] x_j`` give

        K[(b,k),(b',k')] = delta_{kk'} <W_1 x_b, W_1 x_b'> + (W_2 W_2^T)_{kk'} <x_b, x_b'>,

    which for one output is Eq. 7, ``K = X^T (W_1^T W_1 + ||W_2||^2 I) X``.

    Args:
        W_1: ``(E, N, d)``; W_2: ``(E, O, N)``; x: ``(m, d)`` or ``(E, m, d)``.
        params: ``'all'`` (Eq. 7), ``'W_1'`` or ``'W_2'`` (one layer's share).

    Returns:
        ``(E, m*O, m*O)``, rows ordered ``(sample, output)``.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> W_1, W_2 = torch.randn(1, 4, 3, generator=g), torch.randn(1, 1, 4, generator=g)
    >>> x = torch.randn(5, 3, generator=g)
    >>> K = linear_tangent_kernel(W_1, W_2, x)  # Eq. 7: X^T (W_1^T W_1 + ||W_2||^2 I) X
    >>> bool(torch.allclose(K[0], x @ (W_1[0].T @ W_1[0] + W_2.norm() ** 2 * torch.eye(3)) @ x.T, atol=1e-5))
    True
    """
    if params not in ("all", "W_1", "W_2"):
        raise ValueError(f"kernel params must be 'all', 'W_1' or 'W_2', got {params!r}")
    E, O = W_2.shape[0], W_2.shape[1]
    x = x.to(W_1)  # dtype and device of the weights
    m = x.shape[-2]
    K = torch.zeros(E, m, O, m, O, dtype=W_1.dtype, device=W_1.device)
    if params in ("all", "W_2"):
        h = x @ W_1.transpose(-1, -2)  # (E, m, N)
        eye = torch.eye(O, dtype=W_1.dtype, device=W_1.device)
        K = K + (h @ h.transpose(-1, -2))[:, :, None, :, None] * eye[None, None, :, None, :]
    if params in ("all", "W_1"):
        xx = (x @ x.transpose(-1, -2)).expand(E, m, m)
        ww = W_2 @ W_2.transpose(-1, -2)  # (E, O, O)
        K = K + xx[:, :, None, :, None] * ww[:, None, :, None, :]
    return K.reshape(E, m * O, m * O)


def final_kernel(beta: Tensor, x: Tensor) -> Tensor:
    """Converged NTK after gradient flow from small init (Eq. 8, Atanasov et al. 2021):

        K_f = ||beta|| X^T (beta_hat beta_hat^T + I_d) X  (+ O(sigma^2)).

    Gradient flow keeps ``W_1 W_1^T - W_2^T W_2`` fixed (``O(sigma^2)``), so the converged weights
    are the balanced factorisation ``W_1 = ||beta||^{1/2} u beta_hat^T``, ``W_2 = ||beta||^{1/2} u^T``
    of ``beta^T``; this holds for any full-rank data, whitened or not.

    Args:
        beta: ``(d,)`` or ``(E, d)``; x: ``(m, d)``.

    Returns:
        ``(m, m)`` or ``(E, m, m)``.

    >>> import torch
    >>> final_kernel(torch.tensor([3.0, 4.0]), torch.eye(2))  # ||beta|| (beta_hat beta_hat^T + I)
    tensor([[6.8000, 2.4000],
            [2.4000, 8.2000]])
    """
    b = beta.to(x.dtype)
    norm = b.norm(dim=-1, keepdim=True)
    xb = x @ (b / norm).unsqueeze(-1)  # (..., m, 1)
    xx = x @ x.transpose(-1, -2)
    return norm.unsqueeze(-1) * (xb @ xb.transpose(-1, -2) + xx)


def initial_metric(W_1: Tensor, W_2: Tensor) -> Tensor:
    """``M_0 = W_1^T W_1 + ||W_2||^2 I_d`` (App. B; ``K^(0) = X^T M_0 X``), shape ``(E, d, d)``."""
    d = W_1.shape[-1]
    eye = torch.eye(d, dtype=W_1.dtype, device=W_1.device)
    w2 = W_2.pow(2).sum((-1, -2))
    return W_1.transpose(-1, -2) @ W_1 + w2[..., None, None] * eye


def per_teacher_alignment(W_1: Tensor, W_2: Tensor, beta: Tensor) -> Tensor:
    """Kernel alignment of ``K^(f)`` with ``K^(0)`` for one teacher, whitened data (Eq. 14):

        KA = (beta_hat^T M_0 beta_hat + Tr M_0) / sqrt((d + 3) Tr M_0^2)   (+ O(sigma^2)),

    with ``M_0 = W_1^T W_1 + ||W_2||^2 I`` (the paper writes ``sigma^2`` for ``||W_2^(0)||^2``).

    Args:
        W_1: ``(E, N, d)`` initial first layer; W_2: ``(E, 1, N)`` initial readout; beta: ``(E, d)``.
    """
    M0 = initial_metric(W_1.double(), W_2.double())
    d = M0.shape[-1]
    b = beta.to(M0)
    bh = b / b.norm(dim=-1, keepdim=True)
    quad = torch.einsum("...i,...ij,...j->...", bh, M0, bh)
    tr = torch.diagonal(M0, dim1=-2, dim2=-1).sum(-1)
    tr2 = (M0 * M0).sum((-1, -2))
    return (quad + tr) / torch.sqrt((d + 3) * tr2)


def expected_alignment(singular_values: Tensor, d: int | None = None, w2_norm: Tensor | float | None = None
                       ) -> Tensor:
    """Expected kernel alignment over teachers ``beta ~ N(0, I/d)`` (Theorem 1, Eq. 18-21).

    With ``c = E[beta_j^2 / ||beta||^2] = 1/d`` and ``M_0`` as in :func:`initial_metric`,
    Eq. 18 reads ``(1 + c) Tr M_0 / sqrt((d + 3) Tr M_0^2)``; with Theorem 1's norms
    ``||W_1||_F = ||W_2||_F = sigma`` (the default, ``w2_norm = ||s||``) it is Eq. 21:

        E[KA] = (1 + c)(d + 1) / sqrt((d + 3)(d + 2 + sum_j (s_j / sigma)^4)).

    Args:
        singular_values: ``(..., r)`` singular values ``s_j`` of ``W_1^(0)`` (``r <= d``; missing
            ones are zero).
        d: input dimension (default ``r``).
        w2_norm: ``||W_2^(0)||_F`` (default ``sigma = sqrt(sum_j s_j^2)``).

    >>> import torch
    >>> iso, low = expected_alignment(torch.ones(4)), expected_alignment(torch.tensor([2.0, 0.0, 0.0, 0.0]))
    >>> bool(iso > low)  # Theorem 1: isotropic W_1 (high rank) aligns most on average
    True
    """
    s = singular_values.double()
    r = s.shape[-1]
    d = r if d is None else int(d)
    if r > d:
        raise ValueError(f"got {r} singular values for input dimension d={d}")
    s2 = s.pow(2)
    w2 = s2.sum(-1) if w2_norm is None else torch.as_tensor(w2_norm, dtype=s.dtype) ** 2
    c = 1.0 / d
    tr = s2.sum(-1) + d * w2
    tr2 = (s2 + w2.unsqueeze(-1)).pow(2).sum(-1) + (d - r) * w2**2
    return (1 + c) * tr / torch.sqrt((d + 3) * tr2)


def rank_one_alignment(u: Tensor, beta: Tensor) -> Tensor:
    """Eq. 14 at a rank-one init ``W_1 = sigma [u_hat^T; 0; ...]`` with ``||W_2|| = sigma``:
    ``M_0 = sigma^2 (u_hat u_hat^T + I)``, so ``KA = ((u_hat . beta_hat)^2 + d + 2) / (d + 3)``.

    At ``u = beta`` (Proposition 1) this is exactly 1; a partially aligned ``u`` (Fig. 3B) loses
    ``(1 - cos^2(u, beta)) / (d + 3)``; a random ``u`` averages ``(d + 2 + 1/d) / (d + 3)``.
    """
    uh = u.double() / u.double().norm(dim=-1, keepdim=True)
    bh = beta.double() / beta.double().norm(dim=-1, keepdim=True)
    d = uh.shape[-1]
    return ((uh * bh).sum(-1).pow(2) + d + 2) / (d + 3)


def frozen_rank_error_bound(Y: Tensor, rank: int) -> Tensor:
    """Smallest ``||Y_hat - Y||_F^2`` over all ``Y_hat`` of rank ``<= rank`` (Eckart-Young):
    ``sum_{i > rank} s_i(Y)^2``. A linear RNN's last-step output ``w W_h (...)`` has rank at most
    ``rank(W_h)``, so with ``W_h`` frozen at rank ``r < N_out`` its squared error on a target of rank
    ``N_out`` cannot go below this floor (Proposition 2)."""
    s = torch.linalg.svdvals(Y.double())
    return s[..., rank:].pow(2).sum(-1)
