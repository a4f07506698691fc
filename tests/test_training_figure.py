"""``training.png`` as people read it: a grid of labelled panels, the lines and the shaded bands
named in the legend, the bands the sample sd of each cell, and axes that say whether a rank is ÷ N."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from rlnet.experiments.report import figure_training


def _rec(rank: int, seed: int, ka: list[float], er: list[float], rk: list[float]) -> dict:
    return {"task": "2af", "structure": "svd", "rank": rank, "seed": seed, "diverged": False, "settings": {},
            "history": {"step": [0, 10, 20], "kernel_alignment": ka, "kernel_effective_rank": er,
                        "weight_change_norm": rk}}


@pytest.fixture
def drawn(monkeypatch):
    """The figures figure_training saves (it closes them after saving)."""
    figs: list[Figure] = []
    save = Figure.savefig

    def keep(self, *args, **kwargs):
        figs.append(self)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return figs


def test_training_figure_panels_legend_and_bands(tmp_path, drawn):
    recs = [_rec(1, s, [1.0, 0.8 - 0.1 * s, 0.5 - 0.1 * s], [3.0, 2.0, 1.5], [0.0, 0.1, 0.2]) for s in range(3)]
    recs += [_rec(8, s, [1.0, 0.95, 0.9 - 0.01 * s], [4.0, 3.5, 3.0 + s], [0.0, 0.05, 0.1]) for s in range(2)]
    assert figure_training(recs, "rank", [], tmp_path / "training.png") is not None
    (fig,) = drawn
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3  # one panel per series; three across, so one row (a grid, not a strip of 6)
    letters = [t.get_text() for ax in axes for t in ax.texts]
    assert letters == ["A", "B", "C"]
    titles = [ax.get_title(loc="left") for ax in axes]
    assert titles == ["2af: kernel alignment with K_0", "2af: kernel effective rank", "2af: weight change"]
    assert "not ÷ N" in axes[1].get_ylabel()  # Tr K / lambda_max is not divided by N
    assert all(ax.get_xlabel() == "training step" for ax in axes)
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[:2] == ["initial rank 1", "initial rank 8"]
    assert labels[2].startswith("line: mean; shaded: ± 1 sd over a cell's networks (n = 2-3)")
    # The band of rank 1 in panel A is mean ± sample sd (ddof = 1) of its three networks.
    ka = np.array([r["history"]["kernel_alignment"] for r in recs[:3]])
    band = axes[0].collections[0].get_paths()[0].vertices
    lo, hi = ka.mean(0) - ka.std(0, ddof=1), ka.mean(0) + ka.std(0, ddof=1)
    ys = band[:, 1]
    for v in (*lo, *hi):
        assert np.isclose(ys, v).any()
    line = axes[0].lines[0]
    assert np.allclose(line.get_ydata(), ka.mean(0))
