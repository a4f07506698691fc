"""``python -m rlnet spectra --out DIR``: eigenvalue spectra of every structure against the null
(paper Fig. 2, left panels; with singular values, Fig. 16).

Each panel plots ``|lambda_i| / |lambda_1|`` in decreasing order against ``i / N`` for one family of
structures and the null ``N(0, g^2/N)`` at the same ``N``; the legend gives the relative effective
rank (the area under the curve), mean +- s.d. over ``--n_seeds`` draws. Writes
``spectra_eigenvalues.png``, ``spectra_singular_values.png`` and ``spectra.json`` to ``--out``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from rlnet.connectivity import (
    CellType,
    ChainMotifs,
    Connectivity,
    DaleBalanced,
    EMConnectivity,
    Null,
    SoftRank,
)
from rlnet.measures.spectrum import eigenvalue_magnitudes, singular_values
from rlnet.results import write_json_atomic


def panels(g: float) -> list[tuple[str, int, list[tuple[str, Connectivity]]]]:
    """``(title, N, [(label, structure), ...])`` for Fig. 2's panels A-D (and soft rank, Fig. 8)."""
    return [
        ("A  cell-type statistics", 300, [("cell type, reading A", CellType(g=g)),
                                          ("cell type, reading B", CellType(reading="B", g=g))]),
        ("B  EM (synthetic stand-in)", 198, [("EM stand-in", EMConnectivity(g=g)),
                                             ("shuffled within mask", EMConnectivity(shuffle="mask", g=g)),
                                             ("shuffled all", EMConnectivity(shuffle="all", g=g))]),
        ("C  Dale's law, balanced 80/20", 300, [("Dale", DaleBalanced(g=g))]),
        ("D  chain motifs", 100, [("chain over (tau=0.03)", ChainMotifs(0.03, g=g)),
                                  ("chain under (tau=-0.1)", ChainMotifs(-0.1, g=g))]),
        ("soft rank (Fig. 8)", 300, [(f"soft rank k={k}", SoftRank(k=k, g=g)) for k in (1, 3)]),
    ]


def compute(g: float = 1.5, n_seeds: int = 5, seed: int = 0) -> list[dict]:
    """Spectra of seed ``seed`` and effective ranks over ``n_seeds`` draws for every panel."""
    out = []
    for title, n, entries in panels(g):
        curves = []
        for label, c in [("null", Null(g=g)), *entries]:
            mats = [c(n, torch.Generator().manual_seed(seed + s)) for s in range(n_seeds)]
            eig = torch.stack([eigenvalue_magnitudes(w) for w in mats])
            sv = torch.stack([singular_values(w) for w in mats])
            er, sr = eig.mean(1), sv.mean(1)  # the areas under the curves = the effective ranks
            curves.append({"label": label, "structure": c.params(), "n": n,
                           "eigenvalue_effective_rank": [float(v) for v in er],
                           "singular_value_effective_rank": [float(v) for v in sr],
                           "eigenvalue_magnitudes": [round(float(v), 5) for v in eig[0]],
                           "singular_values": [round(float(v), 5) for v in sv[0]]})
        out.append({"title": title, "n": n, "curves": curves})
    return out


def _mean_sd(v: list[float]) -> tuple[float, float]:
    t = torch.tensor(v, dtype=torch.float64)
    return float(t.mean()), float(t.std()) if len(v) > 1 else 0.0


def plot(result: list[dict], key: str, rank_key: str, ylabel: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 3
    rows = -(-len(result) // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.9 * rows), sharey=True, squeeze=False)
    axes = grid.flatten()
    for ax in axes[len(result):]:
        ax.set_visible(False)
    for ax, panel in zip(axes, result):
        for i, c in enumerate(panel["curves"]):
            y = c[key]
            x = [(j + 1) / len(y) for j in range(len(y))]
            m, sd = _mean_sd(c[rank_key])
            ax.plot(x, y, color="k" if i == 0 else f"C{i - 1}", lw=2 if i == 0 else 1.5,
                    ls="--" if i == 0 else "-", label=f"{c['label']}: {m:.2f} ± {sd:.2f}")
        ax.set_title(f"{panel['title']} (N={panel['n']})", fontsize=10)
        ax.set_xlabel("index / N")
        ax.legend(fontsize=7, title="effective rank (mean ± s.d.)", title_fontsize=7)
    for r in range(rows):
        grid[r, 0].set_ylabel(ylabel)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(args: Sequence[str] | None = None) -> int:
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(prog="rlnet spectra", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=str, default="spectra", help="output directory")
    parser.add_argument("--g", type=float, default=1.5, help="gain of the null draw (paper text: 1.5)")
    parser.add_argument("--n_seeds", type=int, default=5, help="draws per structure for the effective ranks")
    parser.add_argument("--seed", type=int, default=0, help="first seed; its draw is plotted")
    cfg = parser.parse_args(list(args or []))
    if cfg.n_seeds < 1 or cfg.g <= 0:
        print(f"rlnet: error: spectra needs n_seeds >= 1 and g > 0, got n_seeds={cfg.n_seeds}, g={cfg.g}",
              file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    result = compute(cfg.g, cfg.n_seeds, cfg.seed)
    plot(result, "eigenvalue_magnitudes", "eigenvalue_effective_rank", "|eigenvalue| / |eigenvalue_1|",
         out / "spectra_eigenvalues.png")
    plot(result, "singular_values", "singular_value_effective_rank", "singular value / s_1",
         out / "spectra_singular_values.png")
    write_json_atomic(out / "spectra.json", {"g": cfg.g, "n_seeds": cfg.n_seeds, "seed": cfg.seed, "panels": result})
    print(f"{'structure':<28} {'N':>4}  {'eig. eff. rank':>16}  {'s.v. eff. rank':>16}")
    for panel in result:
        for c in panel["curves"]:
            em, esd = _mean_sd(c["eigenvalue_effective_rank"])
            sm, ssd = _mean_sd(c["singular_value_effective_rank"])
            print(f"{c['label']:<28} {c['n']:>4}  {em:>9.3f} ± {esd:.3f}  {sm:>9.3f} ± {ssd:.3f}")
    print(f"spectra written to {out / 'spectra_eigenvalues.png'}, {out / 'spectra_singular_values.png'}, "
          f"{out / 'spectra.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
