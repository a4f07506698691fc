"""LightningModule around the two-layer linear student (Sec. 2.3, Fig. 3B, 4A): MSE, full-batch
gradient descent, the initial structures the paper compares, and the laziness protocol."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from rlnet.connectivity.linear_student import first_layer, parse_init
from rlnet.measures.alignment import alignment
from rlnet.measures.tangent_kernel import empirical_ntk
from rlnet.measures.theory import expected_alignment, final_kernel, linear_tangent_kernel, per_teacher_alignment
from rlnet.models.divergence import freeze_members
from rlnet.models.ensemble import EnsembleModule, check_distinct_members, check_sgd_args
from rlnet.nets.linear import TwoLayerLinear, half_mse, linear_forward

DTYPES = {"float32": torch.float32, "float64": torch.float64}
NOT_CONVERGED = -1


def _rows(x: Tensor) -> Tensor:
    """Probe/batch inputs ``(1, m, d)`` (one time step, samples on dim 1) -> ``(m, d)``."""
    if x.dim() == 3:
        if x.shape[0] != 1:
            raise ValueError(f"linear-network inputs are (1, m, d) or (m, d), got {tuple(x.shape)}")
        return x[0]
    return x


class LinearModule(EnsembleModule):
    """Trains ``E = len(seeds) * len(inits)`` two-layer linear students ``y = W_2 W_1 x`` on one teacher.

    Member ``(seed, init)``: a generator seeded by ``seed`` draws ``W_1`` ``(N, d)`` then ``W_2``
    ``(1, N)``, entries ``N(0, sigma^2)`` (the paper's simulations); ``init`` then restructures ``W_1``
    at the draw's Frobenius norm (see :func:`rlnet.connectivity.linear_student.first_layer`). Members of one seed share
    ``W_2`` and the Gaussian draw, so they differ only in ``W_1``'s structure.

    Args:
        n_input, n_output: ``d`` and 1; linked from the DataModule by the CLI.
        n_hidden: N (paper: 1000).
        inits: structures of ``W_1``, one member per entry and seed: ``'gaussian'``, ``'svd:<rank>'``,
            ``'isotropic'``, ``'aligned'``, ``'partial'`` (the last two take the teacher's direction
            from a :class:`~rlnet.data.student_teacher.StudentTeacherDataModule` at setup).
        sigma: initial scale (paper: 0.001).
        norm: ``'entry'``: entries ``N(0, sigma^2)`` (the paper's simulations, ``||W_1||_F ~ sigma
            sqrt(N d)``); ``'frobenius'``: ``||W_1||_F = ||W_2||_F = sigma`` (Theorem 1, Prop. 1).
        lr, momentum: full-batch gradient descent on ``L = 1/(2m) sum_b (y_hat_b - y_b)^2``.
        seed, n_members, seeds: seeds ``seed .. seed + n_members - 1`` unless ``seeds`` lists them
            (``seed=None``: 0, or rlnet's CLI fills in ``seed_everything``).
        loss_tol: a member whose loss falls below this is frozen after that step's update (its
            gradient and momentum zeroed from then on, :func:`~rlnet.models.divergence.freeze_members`),
            so it ends with the weights and steps it would have alone (``stopped_at_step`` in
            ``metrics.json``); the run stops when every member has (``None``: run ``max_steps``).
        precision: ``'float64'`` (default; the theory's O(sigma^2) terms are small) or ``'float32'``.
    """

    def __init__(
        self,
        n_input: int = 2,
        n_output: int = 1,
        n_hidden: int = 1000,
        inits: list[str] | None = None,
        sigma: float = 1e-3,
        norm: Literal["entry", "frobenius"] = "entry",
        lr: float = 0.01,
        momentum: float = 0.0,
        seed: int | None = None,
        n_members: int = 1,
        seeds: list[int] | None = None,
        loss_tol: float | None = None,
        precision: Literal["float32", "float64"] = "float64",
    ) -> None:
        super().__init__()
        check_sgd_args(lr, momentum)
        if not sigma > 0:
            raise ValueError(f"model.sigma must be > 0, got {sigma}")
        if norm not in ("entry", "frobenius"):
            raise ValueError(f"model.norm must be 'entry' or 'frobenius', got {norm!r}")
        if precision not in DTYPES:
            raise ValueError(f"model.precision must be one of {sorted(DTYPES)}, got {precision!r}")
        if loss_tol is not None and not loss_tol > 0:
            raise ValueError(f"model.loss_tol must be > 0, got {loss_tol}")
        if seeds is not None and len(seeds) != n_members and n_members != 1:
            raise ValueError(f"model.seeds has {len(seeds)} entries but model.n_members={n_members}")
        inits = list(inits) if inits is not None else ["gaussian"]
        if not inits:
            raise ValueError("model.inits must list at least one structure")
        self.specs = [parse_init(s) for s in inits]
        self.save_hyperparameters()
        seed = 0 if seed is None else int(seed)  # None: rlnet's CLI fills in seed_everything
        seed_list = list(seeds) if seeds is not None else [seed + e for e in range(n_members)]
        check_distinct_members([int(s) for s in seed_list], seed_list)
        self.members = [(int(s), spec, *self.specs[i]) for s in seed_list for i, spec in enumerate(inits)]
        for _, spec, kind, rank in self.members:
            if kind == "svd" and rank > min(n_hidden, n_input):
                raise ValueError(f"model.inits {spec!r}: rank exceeds min(n_hidden, n_input)={min(n_hidden, n_input)}")
        self.sigma, self.norm, self.lr, self.momentum, self.loss_tol = float(sigma), norm, lr, momentum, loss_tol
        self.net = TwoLayerLinear(n_input, n_hidden, n_output, len(self.members), DTYPES[precision])
        # The step at which each member's loss first fell below loss_tol (-1: not yet); a buffer, so
        # that a resumed run keeps its frozen members frozen.
        self.register_buffer("converged_step", torch.full((len(self.members),), NOT_CONVERGED))
        self.needs_teacher = any(kind in ("aligned", "partial") for _, _, kind, _ in self.members)
        self.theory: list[dict] = [{} for _ in self.members]
        self._set_up = False
        self.init_weights()

    # ---- initial weights --------------------------------------------------------------------
    def init_weights(self, directions: dict[str, Tensor] | None = None) -> None:
        """Draw every member's ``W_1, W_2``. ``directions`` maps ``'aligned'``/``'partial'`` to the
        teacher's directions; without it those members keep ``W_1 = 0`` until :meth:`setup`."""
        N, d = self.net.W_1.shape[1:]
        O = self.net.W_2.shape[1]
        with torch.no_grad():
            for e, (seed, _, kind, rank) in enumerate(self.members):
                gen = torch.Generator().manual_seed(seed)
                draw = torch.randn(N, d, generator=gen, dtype=torch.float64) * self.sigma
                W_2 = torch.randn(O, N, generator=gen, dtype=torch.float64) * self.sigma
                if kind in ("aligned", "partial") and (directions is None or kind not in directions):
                    W_1 = torch.zeros_like(draw)
                else:
                    W_1 = first_layer(kind, rank, draw, None if directions is None else directions.get(kind))
                if self.norm == "frobenius":
                    W_1, W_2 = W_1 * (self.sigma / W_1.norm()), W_2 * (self.sigma / W_2.norm())
                self.net.W_1[e].copy_(W_1.to(self.net.W_1))
                self.net.W_2[e].copy_(W_2.to(self.net.W_2))

    def setup(self, stage: str) -> None:
        # Once per module: a second fit() continues training instead of re-drawing the weights.
        if self._set_up:
            return
        dm = self.trainer.datamodule if self._trainer is not None else None
        if self.needs_teacher:
            if dm is None or not hasattr(dm, "teacher_direction"):
                raise ValueError("model.inits 'aligned'/'partial' need data: StudentTeacherDataModule")
            self.init_weights({k: dm.teacher_direction(k) for k in ("aligned", "partial")})
        if dm is not None and hasattr(dm, "beta"):
            self.record_theory(dm.beta, dm.probe_batch()[0])
        self._set_up = True

    @torch.no_grad()
    def record_theory(self, beta: Tensor, x: Tensor) -> None:
        """The closed forms for each member's initial weights, saved next to the measurements:
        ``theory_kernel_alignment`` (Eq. 8 against the initial Eq. 7 kernel on the probe, any data),
        ``eq14_alignment`` and ``eq18_expected_alignment`` (whitened-data forms, Theorem 1)."""
        W_1, W_2 = self.net.W_1.detach().double(), self.net.W_2.detach().double()
        xr = _rows(x).to(W_1)
        K0 = linear_tangent_kernel(W_1, W_2, xr)
        Kf = final_kernel(beta.to(W_1), xr).expand_as(K0)
        ka = alignment(Kf, K0)
        b = beta.to(W_1).expand(W_1.shape[0], -1)
        eq14 = per_teacher_alignment(W_1, W_2, b)
        s = torch.linalg.svdvals(W_1)
        eq18 = expected_alignment(s, d=W_1.shape[-1], w2_norm=W_2.norm(dim=(-1, -2)))
        for e in range(W_1.shape[0]):
            self.theory[e] = {"initial_W_1_singular_value_effective_rank": float(s[e].sum() / (s[e, 0] * s.shape[-1])),
                              "theory_kernel_alignment": float(ka[e]), "eq14_alignment": float(eq14[e]),
                              "eq18_expected_alignment": float(eq18[e])}

    # ---- training ---------------------------------------------------------------------------
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.net(_rows(x))

    def member_losses(self, x: Tensor, y: Tensor) -> Tensor:
        """Per-member ``1/(2m) sum_b (y_hat_b - y_b)^2``, shape ``(E,)``."""
        y_hat, _ = self.net(_rows(x))
        return half_mse(y_hat, _rows(y))

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        losses = self.member_losses(x, y)
        if self._trainer is not None:
            if (self.global_step + 1) % max(1, self.trainer.log_every_n_steps) == 0:
                self.log("train/loss", losses.detach().mean(), prog_bar=True)
        if self.loss_tol is not None:
            # Alone, a member whose loss is below tol takes this step's update, then its run stops:
            # in the ensemble it is frozen from the next step on (on_before_optimizer_step).
            newly = (losses.detach() < self.loss_tol) & (self.converged_step == NOT_CONVERGED)
            self.converged_step.masked_fill_(newly, self.global_step)
            if self._trainer is not None and bool((self.converged_step != NOT_CONVERGED).all()):
                self.trainer.should_stop = True
        # Sum over members: each member's gradient is its own loss's gradient.
        return losses.sum()

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Freeze the members that reached ``loss_tol`` at an earlier step (zero gradient and
        momentum: no update), so that each keeps the weights it ends with alone."""
        if self.loss_tol is None:
            return
        keep = (self.converged_step == NOT_CONVERGED) | (self.converged_step == self.global_step)
        freeze_members(list(self.net.parameters()), optimizer, keep)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=self.momentum)

    # ---- laziness protocol (see rlnet.callbacks.laziness) -------------------------------------
    laziness_trial_dim = 1  # probe tensors are (1, m, d): the samples are the trials

    def laziness_weights(self) -> dict[str, Tensor]:
        return {"W_1": self.net.W_1, "W_2": self.net.W_2}

    @torch.no_grad()
    def laziness_representation(self, x: Tensor) -> Tensor:
        """Hidden activity ``h = W_1 x``, ``(E, m, N)``."""
        return linear_forward(self.net.W_1, self.net.W_2, _rows(x))[1]

    @torch.no_grad()
    def laziness_rates(self, x: Tensor) -> Tensor:
        """Hidden activity with the RNN's layout, ``(E, 1, m, N)``."""
        return self.laziness_representation(x).unsqueeze(1)

    @torch.no_grad()
    def laziness_kernel(self, x: Tensor, params: str = "all", steps: str = "all") -> Tensor:
        """The exact tangent kernel, Eq. 7: ``params='all'`` (the theory's), ``'W_1'`` or ``'W_2'``."""
        if params not in ("all", "W_1", "W_2"):
            raise ValueError(f"laziness.kernel_params must be 'all' for the linear network, got {params!r}")
        return empirical_ntk(self.net, _rows(x), params=params, implementation="structured")

    @torch.no_grad()
    def laziness_targets(self, y: Tensor, steps: str = "all") -> Tensor:
        """Targets ``(m,)`` in the kernel's row order (one output, one step)."""
        return _rows(y).reshape(-1)

    @torch.no_grad()
    def laziness_scores(self, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        return {"loss": self.member_losses(x, y)}

    def member_info(self) -> list[dict]:
        out = []
        for e, (seed, spec, kind, rank) in enumerate(self.members):
            info = {"seed": seed, "init": spec, "kind": kind, "sigma": self.sigma, "norm": self.norm}
            if rank is not None:
                info["rank"] = rank
            if self.loss_tol is not None:
                c = int(self.converged_step[e])  # updates taken: the converging step's included
                info["stopped_at_step"] = None if c == NOT_CONVERGED else c + 1
            info.update(self.theory[e])
            out.append(info)
        return out
