"""Empirical tangent kernels of any ``nn.Module`` with ``torch.func`` (paper Eq. 6).

``K[(b, i), (d, j)] = <d f_i(x_b) / d theta, d f_j(x_d) / d theta>`` summed over the chosen
parameters ``theta``; rows ordered ``(trial, flattened output)``. Two exact routes, as in PyTorch's
NTK tutorial:

* ``'jacobian'``: per-trial Jacobians with ``vmap(jacrev(f))`` then ``J J^T`` (memory
  ``O(M P)``; ``chunk_size`` bounds the vmap's working set);
* ``'ntk_vp'``: kernel columns ``K u = J (J^T u)`` by ``vjp`` then ``jvp`` for one-hot ``u``,
  vmapped over ``chunk_size`` columns at a time: never holds the whole Jacobian (memory
  ``O(chunk_size P)``);
* ``'loop'``: one ``autograd.grad`` per output into a preallocated Jacobian, for modules whose
  operators ``vmap`` does not support (e.g. ``nn.GRU``, ``nn.LSTM``); ``'auto'`` (the default of
  :func:`module_tangent_kernel`) tries ``'jacobian'`` and falls back to it.

Used by the laziness callbacks for modules rlnet does not know and as the tests' cross-check of
the RNN's fast kernel. Needs trials that do not interact (no batch statistics).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, jvp, vjp, vmap

Method = Literal["auto", "jacobian", "ntk_vp", "loop"]


def select_parameters(module: nn.Module, params: str | list[str] | None = "all") -> dict[str, Tensor]:
    """Trainable parameters by name: ``'all'``/``None`` for every parameter that requires grad,
    one name, or a list of names. Unknown names raise ``ValueError``."""
    named = {k: p for k, p in module.named_parameters() if p.requires_grad}
    if params is None or params == "all":
        return named
    names = [params] if isinstance(params, str) else list(params)
    unknown = [n for n in names if n not in named]
    if unknown:
        raise ValueError(f"kernel_params {unknown} are not trainable parameters of the module; "
                         f"choose from {sorted(named)} or 'all'")
    return {n: named[n] for n in names}


def functional_kernel(
    fn: Callable[[Mapping[str, Tensor], Tensor], Tensor], params: Mapping[str, Tensor], x: Tensor, *,
    trial_dim: int = 0, method: Method = "jacobian", chunk_size: int | None = None,
) -> Tensor:
    """Exact tangent kernel ``(M, M)`` of ``fn(params, x)`` over ``params``.

    ``fn`` maps a parameter dict and inputs with ``trial_dim`` to outputs with trials on dim 0
    (any trailing shape). Each trial is run alone (``vmap`` over ``trial_dim``), so ``M = B * F``
    with ``F`` the outputs per trial, rows ordered ``(trial, output)``.
    """
    if method not in ("auto", "jacobian", "ntk_vp", "loop"):
        raise ValueError(f"method must be 'auto', 'jacobian', 'ntk_vp' or 'loop', got {method!r}")
    p = {k: v.detach() for k, v in params.items()}

    def single(pp: Mapping[str, Tensor], xb: Tensor) -> Tensor:
        return fn(pp, xb.unsqueeze(trial_dim))[0].reshape(-1)

    if method == "loop":
        return _loop_kernel(fn, p, x)
    # torch.func transforms ignore an outer no_grad; it only stops graphs through unselected params.
    try:
        with torch.no_grad():
            return _kernel(single, fn, p, x, trial_dim, "jacobian" if method == "auto" else method, chunk_size)
    except RuntimeError:
        if method != "auto":
            raise
        return _loop_kernel(fn, p, x)


def _loop_kernel(fn: Callable, p: dict[str, Tensor], x: Tensor) -> Tensor:
    """One ``autograd.grad`` per output of the whole probe batch, rows written in place."""
    leaves = {k: v.detach().requires_grad_() for k, v in p.items()}
    with torch.enable_grad():
        y = fn(leaves, x).reshape(-1)
        P = sum(v.numel() for v in leaves.values())
        J = torch.empty(y.numel(), P, dtype=y.dtype, device=y.device)
        for i in range(y.numel()):
            gs = torch.autograd.grad(y[i], list(leaves.values()), retain_graph=True, allow_unused=True)
            J[i] = torch.cat([(g if g is not None else torch.zeros_like(v)).reshape(-1)
                              for g, v in zip(gs, leaves.values())])
    return J @ J.T


def _kernel(single: Callable, fn: Callable, p: dict[str, Tensor], x: Tensor, trial_dim: int, method: Method,
            chunk_size: int | None) -> Tensor:
    if method == "jacobian":
        jac = vmap(jacrev(single), (None, trial_dim), chunk_size=chunk_size)(p, x)  # {name: (B, F, *shape)}
        J = torch.cat([j.flatten(2) for j in jac.values()], dim=2)  # (B, F, P)
        J = J.reshape(-1, J.shape[-1])
        return J @ J.T

    # NTK-vector products: column u of K is J (J^T u), with no per-trial split needed.
    def full(pp: Mapping[str, Tensor]) -> Tensor:
        return fn(pp, x).reshape(-1)

    out, pull = vjp(full, p)
    M = out.numel()

    def column(u: Tensor) -> Tensor:
        (ct,) = pull(u)
        return jvp(full, (p,), (ct,))[1]

    eye = torch.eye(M, dtype=out.dtype, device=out.device)
    return vmap(column, chunk_size=chunk_size)(eye).T


def module_tangent_kernel(
    module: nn.Module, x: Tensor, *, params: str | list[str] | None = "all",
    output_fn: Callable[[nn.Module, Tensor], Tensor] | None = None, trial_dim: int = 0,
    method: Method = "auto", chunk_size: int | None = None,
) -> Tensor:
    """Exact tangent kernel ``(M, M)`` of a module's output on the probe ``x``.

    Args:
        module: any ``nn.Module`` whose trials do not interact.
        x: probe inputs with trials on ``trial_dim``.
        params: ``'all'`` trainable parameters (default), a name, or a list of names.
        output_fn: ``output_fn(module, x) -> outputs`` with trials on dim 0; default: the
            module's ``forward`` (first element if it returns a tuple), trials on ``trial_dim``.
        trial_dim: the trial dimension of ``x`` (and of the default outputs).
        method, chunk_size: see :func:`functional_kernel`.

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> mlp = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    >>> x = torch.randn(5, 3)
    >>> K = module_tangent_kernel(mlp, x)  # rows (trial, output)
    >>> K.shape, bool(torch.allclose(K, module_tangent_kernel(mlp, x, method="ntk_vp"), atol=1e-5))
    (torch.Size([10, 10]), True)
    """
    selected = select_parameters(module, params)

    def call(m: nn.Module, xx: Tensor) -> Tensor:
        if output_fn is not None:
            return output_fn(m, xx)
        out = m(xx)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.movedim(trial_dim, 0)

    class _Wrap(nn.Module):
        # functional_call only runs ``forward``: route it through ``output_fn``.
        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, xx: Tensor) -> Tensor:
            return call(self.inner, xx)

    wrap = _Wrap()
    pref = {f"inner.{k}": v for k, v in selected.items()}

    def fn(pp: Mapping[str, Tensor], xx: Tensor) -> Tensor:
        return functional_call(wrap, dict(pp), (xx,), strict=False)

    return functional_kernel(fn, pref, x, trial_dim=trial_dim, method=method, chunk_size=chunk_size)
