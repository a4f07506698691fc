"""One entry point for every empirical tangent kernel (paper Eq. 6): :func:`empirical_ntk`.

``K = J J^T``, rows of ``J`` the gradients of single outputs over the chosen parameters. As
neural-tangents' ``empirical_ntk_fn(..., implementation=...)``, one call with an implementation
switch:

==================  ===========================================================================
implementation      how
==================  ===========================================================================
``'structured'``    the closed form of one of rlnet's nets; no per-output gradient is formed:
                    :class:`~rlnet.nets.rnn.RNN` (hand-written adjoints, :mod:`rlnet.measures.ntk`),
                    :class:`~rlnet.nets.mlp.MLP` (:mod:`rlnet.measures.ntk_mlp`),
                    :class:`~rlnet.nets.linear.TwoLayerLinear` (Eq. 7, :mod:`rlnet.measures.theory`)
``'jacobian'``      ``torch.func``: per-trial Jacobians, ``J J^T`` (:mod:`rlnet.measures.ntk_generic`)
``'ntk_vp'``        ``torch.func``: kernel columns ``J (J^T u)``, never the whole Jacobian
``'loop'``          one ``autograd.grad`` per output (for operators ``vmap`` does not support)
``'auto'``          ``'structured'`` for rlnet's nets, else ``'jacobian'`` falling back to ``'loop'``
==================  ===========================================================================

The result always has a leading member dimension, ``(E, M, M)`` (``E = 1`` for a module without
one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from rlnet.measures.ntk import rnn_tangent_kernel
from rlnet.measures.ntk_generic import module_tangent_kernel
from rlnet.measures.ntk_mlp import mlp_tangent_kernel
from rlnet.measures.theory import linear_tangent_kernel
from rlnet.nets.linear import TwoLayerLinear
from rlnet.nets.mlp import MLP
from rlnet.nets.rnn import RNN

Implementation = Literal["auto", "structured", "jacobian", "ntk_vp", "loop"]
IMPLEMENTATIONS = ("auto", "structured", "jacobian", "ntk_vp", "loop")


def has_structured_kernel(net: nn.Module) -> bool:
    """Whether ``net`` is one of rlnet's nets, whose kernel has a closed form here."""
    return isinstance(net, (RNN, MLP, TwoLayerLinear))


def _structured(net: nn.Module, x: Tensor, params: str, steps: str | Sequence[int]) -> Tensor:
    if isinstance(net, RNN):
        # Four members at a time: the batched backward's memory grows with the members.
        return torch.cat([
            rnn_tangent_kernel(net.W_h[e:e + 4], net.W_x[e:e + 4], net.W_o[e:e + 4], x if x.dim() == 3 else x[e:e + 4],
                               leak=net.leak, gain=net.gain, discretization=net.discretization, params=params,
                               steps=steps)
            for e in range(0, net.n_members, 4)])
    if isinstance(net, MLP):
        return mlp_tangent_kernel(net.W_1, net.W_2, x, params=params)
    if isinstance(net, TwoLayerLinear):
        return linear_tangent_kernel(net.W_1, net.W_2, x, params=params)
    raise ValueError(f"implementation='structured' needs one of rlnet's nets (RNN, MLP, TwoLayerLinear), "
                     f"got {type(net).__name__}; use 'jacobian', 'ntk_vp' or 'loop'")


@torch.no_grad()
def empirical_ntk(
    net: nn.Module, x: Tensor, *, params: str | list[str] | None = "all", steps: str | Sequence[int] = "all",
    implementation: Implementation = "auto", trial_dim: int = 0,
    output_fn: Callable[[nn.Module, Tensor], Tensor] | None = None, chunk_size: int | None = None,
) -> Tensor:
    """Exact empirical tangent kernel ``(E, M, M)`` of ``net``'s outputs on the probe ``x``.

    Args:
        net: one of rlnet's nets (any implementation) or any ``nn.Module`` whose trials do not
            interact (the generic implementations).
        x: probe inputs, in the net's own layout (``(T, B, I)`` for rlnet's nets).
        params: the parameters differentiated: rlnet's names (``'W_h'``, ``'W_1'``, ``'W_2'``) or
            ``'all'``; for a generic module a parameter name or a list of names.
        steps: output steps of the RNN's kernel, ``'all'``, ``'last'`` or a list (structured only).
        implementation: see the module docstring.
        trial_dim, output_fn, chunk_size: for the generic implementations, as
            :func:`rlnet.measures.ntk_generic.module_tangent_kernel`.

    Example (an ensemble of two RNNs of 6 units, a probe of 4 trials of 3 steps, 2 outputs):

    >>> import torch
    >>> from rlnet.nets.rnn import RNN
    >>> _ = torch.manual_seed(0)
    >>> net = RNN(n_input=2, n_hidden=6, n_output=2, n_members=2)
    >>> _ = torch.nn.init.normal_(net.W_h, std=0.3), torch.nn.init.normal_(net.W_x), torch.nn.init.normal_(net.W_o)
    >>> x = torch.randn(3, 4, 2)
    >>> K = empirical_ntk(net, x, params="W_h")  # rows (trial, step, output)
    >>> K.shape
    torch.Size([2, 24, 24])
    >>> one = RNN(n_input=2, n_hidden=6, n_output=2)
    >>> one.load_state_dict({k: v[:1] for k, v in net.state_dict().items()})
    <All keys matched successfully>
    >>> def outputs(m, xx):  # the same rows from autograd: (trial, step, output)
    ...     return m(xx)[0][0].transpose(0, 1)
    >>> Kg = empirical_ntk(one, x, params="W_h", implementation="jacobian", trial_dim=1, output_fn=outputs)
    >>> bool(torch.allclose(K[0], Kg[0], atol=1e-4))
    True
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}")
    if implementation == "structured" or (implementation == "auto" and has_structured_kernel(net)):
        return _structured(net, x, params, steps)
    method = "auto" if implementation == "auto" else implementation
    K = module_tangent_kernel(net, x, params=params, output_fn=output_fn, trial_dim=trial_dim, method=method,
                              chunk_size=chunk_size)
    return K.unsqueeze(0)
