"""LightningModule around the RNN ensemble: loss, optimiser, initial weights, laziness protocol."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from rlnet.connectivity import Connectivity, Null
from rlnet.connectivity.torch_default import torch_default_linear_
from rlnet.measures.tangent_kernel import empirical_ntk
from rlnet.models import divergence
from rlnet.models.dale import DaleConstraint, infer_presynaptic_signs
from rlnet.models.ensemble import EnsembleModule, check_distinct_members, check_sgd_args
from rlnet.models.member_sgd import MemberSGD
from rlnet.models.members import MEMBER_KEYS, members_of
from rlnet.nets.rnn import RNN, Discretization


class RNNModule(EnsembleModule):
    """Trains ``n_members`` RNNs (Eq. 1-3) on one task; each member is exactly what it would be
    trained alone (own seed, own initial weights, own loss term and gradient).

    Args:
        n_input, n_output: task sizes; linked from the DataModule by the CLI.
        n_hidden: N (paper: 300).
        connectivity: initial recurrent structure (see :mod:`rlnet.connectivity`).
        connectivities: several structures in one ensemble (e.g. SVD ranks 1, 30, 100, 300),
            overriding ``connectivity``. Each member is exactly the network that
            ``connectivity=connectivities[i], seed=seeds[j]`` trains alone.
        pairing: ``'product'``: every structure with every seed, structure-major
            (member ``i * len(seeds) + j``); ``'zip'``: ``connectivities[i]`` with ``seeds[i]``.
        discretization: ``'euler'`` (the authors' code) or ``'exponential'`` (the paper's Eq. 1).
        dt, tau: ms; ``dt = tau = 100`` in every figure run.
        lr, momentum, optimizer: SGD lr 3e-3, momentum 0.9 (the authors' code).
        seed: seed of member 0; member ``e`` uses ``seed + e`` unless ``seeds`` lists them.
            ``None``: 0, or rlnet's CLI fills in ``seed_everything``.
        loss_steps: ``'all'`` (Neurogym: cross-entropy at every step) or ``'last'`` (sMNIST).
        loss: ``'cross_entropy'`` (classification) or ``'mse'`` (regression, targets ``(T, B, O)``).
        decision_step: the step whose rates form the representation (default: the last).
        bptt: use the hand-written backward through time (:mod:`rlnet.nets.bptt`); ``False``
            uses plain autograd (same result to float precision, slower).
        representation_steps: ``'decision'`` (rates at ``decision_step``) or ``'all'`` (rates at every
            step as rows; for one-trial tasks such as pattern generation).
        dale: keep Dale's law during training (Fig. 17; see :mod:`rlnet.models.dale`); the signs come
            from the connectivity (``presynaptic_signs``) or the initial ``W_h``'s columns.
    """

    #: The ``model.init_args`` keys an ensemble varies per member (see :mod:`rlnet.models.members`):
    #: runs whose configs differ only in these train as one ensemble, each member exactly as alone.
    member_keys: ClassVar[tuple[str, ...]] = MEMBER_KEYS
    members_of = staticmethod(members_of)

    def __init__(
        self,
        n_input: int = 3,
        n_output: int = 3,
        n_hidden: int = 300,
        connectivity: Connectivity | None = None,
        discretization: Discretization = "euler",
        dt: float = 100.0,
        tau: float = 100.0,
        lr: float = 3e-3,
        momentum: float = 0.9,
        optimizer: Literal["sgd", "adam"] = "sgd",
        seed: int | None = None,
        n_members: int = 1,
        seeds: list[int] | None = None,
        loss_steps: Literal["all", "last"] = "all",
        loss: Literal["cross_entropy", "mse"] = "cross_entropy",
        decision_step: int = -1,
        connectivities: list[Connectivity] | None = None,
        pairing: Literal["product", "zip"] = "product",
        bptt: bool = True,
        representation_steps: Literal["decision", "all"] = "decision",
        dale: DaleConstraint | None = None,
    ) -> None:
        super().__init__()
        check_sgd_args(lr, momentum)
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"model.optimizer must be 'sgd' or 'adam', got {optimizer!r}")
        if loss_steps not in ("all", "last"):
            raise ValueError(f"model.loss_steps must be 'all' or 'last', got {loss_steps!r}")
        if representation_steps not in ("decision", "all"):
            raise ValueError(f"model.representation_steps must be 'decision' or 'all', got {representation_steps!r}")
        self.representation_steps = representation_steps
        if seeds is not None and len(seeds) != n_members:
            if n_members != 1:
                raise ValueError(f"model.seeds has {len(seeds)} entries but model.n_members={n_members}")
            n_members = len(seeds)
        self.connectivity = connectivity if connectivity is not None else Null()
        self.dale = dale
        self.save_hyperparameters(ignore=["connectivity", "connectivities", "dale"])
        seed = 0 if seed is None else int(seed)  # None: rlnet's CLI fills in seed_everything
        base_seeds = list(seeds) if seeds is not None else [seed + e for e in range(n_members)]
        if connectivities is not None and len(connectivities) == 0:
            raise ValueError("model.connectivities must name at least one structure")
        structures = list(connectivities) if connectivities is not None else [self.connectivity]
        if pairing == "zip":
            if len(structures) != len(base_seeds):
                raise ValueError(f"model.pairing='zip' needs as many seeds ({len(base_seeds)}) as "
                                 f"connectivities ({len(structures)})")
            self.member_connectivity, self.seeds = structures, base_seeds
        elif pairing == "product":
            self.member_connectivity = [c for c in structures for _ in base_seeds]
            self.seeds = [s for _ in structures for s in base_seeds]
        else:
            raise ValueError(f"model.pairing must be 'product' or 'zip', got {pairing!r}")
        # zip may reuse a seed across structures (a paired design); the same (structure, seed) twice is one network.
        check_distinct_members([(repr(c), int(s)) for c, s in zip(self.member_connectivity, self.seeds, strict=True)],
                               self.seeds)
        self.lr, self.momentum, self.optimizer_name = lr, momentum, optimizer
        self.loss_steps, self.loss_name, self.decision_step = loss_steps, loss, decision_step
        self.net = RNN(n_input, n_hidden, n_output, len(self.seeds), discretization, dt, tau, bptt=bptt)
        # Step at which each member diverged (-1: still training); a buffer, so checkpoints keep it.
        self.register_buffer("diverged_step", torch.full((len(self.seeds),), divergence.NOT_DIVERGED))
        self.init_weights()

    # ---- initial weights --------------------------------------------------------------------
    def init_weights(self) -> None:
        """Member ``e``: one generator seeded by ``seeds[e]`` draws ``W_h`` (with the member's
        structure), then ``W_x``, then ``W_o``."""
        N = self.net.W_h.shape[1]
        with torch.no_grad():
            for e, s in enumerate(self.seeds):
                gen = torch.Generator().manual_seed(int(s))
                W_h = self.member_connectivity[e](N, gen)
                if not bool(torch.isfinite(W_h).all()):  # e.g. a finite but huge gain overflows float32
                    raise ValueError(f"model.connectivity {self.member_connectivity[e]!r} gives a non-finite initial "
                                     f"W_h at N={N} (member {e}, seed {s}); use a smaller gain")
                self.net.W_h[e].copy_(W_h)
                self.net.W_x[e].copy_(torch_default_linear_(torch.empty_like(self.net.W_x[e], device="cpu"), gen))
                self.net.W_o[e].copy_(torch_default_linear_(torch.empty_like(self.net.W_o[e], device="cpu"), gen))
        if self.dale is not None:
            # Each member's signs come from its own structure, else from its initial W_h's columns.
            inferred = infer_presynaptic_signs(self.net.W_h)
            per = [c.presynaptic_signs(N) for c in self.member_connectivity]
            signs = torch.stack([inferred[e] if p is None else p.to(inferred) for e, p in enumerate(per)])
            self.register_buffer("dale_signs", signs.to(self.net.W_h).clone())
            self.dale.apply_(self.net.W_h, self.net.W_o, self.dale_signs)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.dale is not None:  # after the optimiser step: project back onto Dale's law
            self.dale.apply_(self.net.W_h, self.net.W_o, self.dale_signs)
        # Every member diverged: end the run cleanly (metrics.json says so) at the first logging step
        # after the last divergence, whether a loss or a gradient showed it (both are marked by now),
        # so the end is a function of the members' diverged_step alone (the packer recomputes it).
        if self._trainer is not None and self.global_step % max(1, self.trainer.log_every_n_steps) == 0 \
                and not bool((self.diverged_step == divergence.NOT_DIVERGED).any()):
            self.trainer.should_stop = True

    # ---- training ---------------------------------------------------------------------------
    def member_losses(self, y_hat: Tensor, y: Tensor) -> Tensor:
        """Per-member loss ``(E,)``: the mean over trials (and steps, for ``loss_steps='all'``)."""
        if self.loss_steps == "last":
            y_hat, y = y_hat[:, -1:], y[-1:]
        E, T, B, O = y_hat.shape
        if self.loss_name == "mse":
            target = y.to(y_hat.dtype).expand(E, *y.shape)
            return ((y_hat - target) ** 2).mean(dim=(1, 2, 3))
        ce = F.cross_entropy(y_hat.reshape(E * T * B, O), y.reshape(1, T * B).expand(E, -1).reshape(-1),
                             reduction="none")
        return ce.reshape(E, T * B).mean(1)

    def member_accuracy(self, y_hat: Tensor, y: Tensor) -> Tensor:
        """Per-member accuracy ``(E,)`` at the decision step (classification only)."""
        pred = y_hat[:, self.decision_step].argmax(-1)  # (E, B)
        return (pred == y[self.decision_step]).double().mean(-1)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        y_hat, _ = self.net(x)
        losses = self.member_losses(y_hat, y)
        self._last_losses = losses.detach()
        self.diverged_step.copy_(divergence.mark_diverged(
            self.diverged_step, divergence.finite_per_member(losses.detach()), self.global_step))
        alive = self.diverged_step == divergence.NOT_DIVERGED
        # Logging costs ~0.3 ms a call (and a device sync): only on the logging steps.
        if self._trainer is not None and (self.global_step + 1) % max(1, self.trainer.log_every_n_steps) == 0:
            self.log("train/loss", losses.detach()[alive].mean(), prog_bar=True)
        # Sum over live members: each member's gradient is exactly its own loss's gradient, and a
        # diverged member's NaN never reaches the others.
        return divergence.masked_loss(losses, alive)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Freeze diverged members: a non-finite gradient marks divergence at this step, then the
        diverged members' gradients and optimiser state are zeroed (see :mod:`rlnet.models.divergence`).

        With :class:`MemberSGD` the check runs inside the optimiser's pass over the gradients, unless
        gradients are clipped (clipping must see the frozen members' gradients zeroed)."""
        step = self.global_step
        alive = self.diverged_step == divergence.NOT_DIVERGED
        if isinstance(optimizer, MemberSGD) and not self._clips_gradients():
            optimizer.check_next_step(alive, lambda finite: self.diverged_step.copy_(
                divergence.mark_diverged(self.diverged_step, finite, step)))
            return
        params = list(self.net.parameters())
        finite = divergence.grads_finite_per_member(params, self.n_members, self.diverged_step.device)
        self.diverged_step.copy_(divergence.mark_diverged(self.diverged_step, finite, step))
        divergence.freeze_members(params, optimizer, self.diverged_step == divergence.NOT_DIVERGED)

    def _clips_gradients(self) -> bool:
        return self._trainer is not None and bool(self._trainer.gradient_clip_val)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        y_hat, _ = self.net(x)
        self.log("val/loss", self.member_losses(y_hat, y).mean())
        if self.loss_name == "cross_entropy":
            self.log("val/acc", self.member_accuracy(y_hat, y).mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer_name == "adam":
            return torch.optim.Adam(self.parameters(), lr=self.lr)
        # The divergence check runs in the update's pass over the gradients (one pass saved per step).
        return MemberSGD(self.parameters(), lr=self.lr, momentum=self.momentum, n_members=self.n_members)

    # ---- laziness protocol (see rlnet.callbacks.protocol) -------------------------------------
    laziness_trial_dim = 1  # probe tensors are (T, B, ...)
    laziness_defaults: ClassVar[dict] = {"weights": ["W_h"], "kernel_params": "W_h"}  # the authors' code

    def laziness_weights(self) -> dict[str, Tensor]:
        """Weights with a leading member dimension, by the paper's names."""
        return {"W_h": self.net.W_h, "W_x": self.net.W_x, "W_o": self.net.W_o}

    @torch.no_grad()
    def laziness_representation(self, x: Tensor) -> Tensor:
        """Rates at the decision step, ``(E, trials, N)`` (Eq. 5's ``H^T``)."""
        _, r = self.net(x)
        if self.representation_steps == "all":
            return r.flatten(1, 2)  # (E, T * trials, N)
        return r[:, self.decision_step]

    @torch.no_grad()
    def laziness_rates(self, x: Tensor) -> Tensor:
        """All probe rates ``(E, T, B, N)`` (for sign similarity)."""
        return self.net(x)[1]

    def laziness_kernel(self, x: Tensor, params: str = "W_h", steps: str = "all") -> Tensor:
        """Exact tangent kernel ``(E, M, M)`` over ``params`` (``'W_h'`` or ``'all'``), by hand-written
        adjoints (:func:`rlnet.measures.tangent_kernel.empirical_ntk`, ``implementation='structured'``)."""
        return empirical_ntk(self.net, x, params=params, steps=steps, implementation="structured")

    @torch.no_grad()
    def laziness_targets(self, y: Tensor, steps: str = "all") -> Tensor:
        """Targets ``(M,)`` in the kernel's row order ``(b, t, k)``: one-hot labels (cross-entropy)
        or the regression targets (MSE), at every step or the last."""
        O = self.net.W_o.shape[1]
        if self.loss_name == "cross_entropy":
            # Steps without a label (-1, e.g. sMNIST before the last pixel row) have a zero target.
            y = y.long()
            Y = F.one_hot(y.clamp(min=0), O).to(self.net.W_o.dtype) * (y >= 0).unsqueeze(-1)
        else:
            Y = y
        Y = Y.transpose(0, 1)  # (B, T, O)
        return (Y[:, -1:] if steps == "last" else Y).reshape(-1)

    @torch.no_grad()
    def laziness_scores(self, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        """Per-member loss and accuracy on ``(x, y)``."""
        y_hat, _ = self.net(x)
        out = {"loss": self.member_losses(y_hat, y)}
        if self.loss_name == "cross_entropy":
            out["accuracy"] = self.member_accuracy(y_hat, y)
        return out

    def member_info(self) -> list[dict]:
        """Per-member description saved in ``metrics.json``."""
        steps = self.diverged_step.tolist()
        extra = {} if self.dale is None else {"dale": self.dale.params()}
        return [{"seed": int(s), "connectivity": c.params(), **extra,
                 "diverged": steps[e] != divergence.NOT_DIVERGED,
                 "diverged_step": None if steps[e] == divergence.NOT_DIVERGED else int(steps[e])}
                for e, (s, c) in enumerate(zip(self.seeds, self.member_connectivity, strict=True))]
