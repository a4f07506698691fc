"""The paper's figures from a hand-written per-network table: the files, the panels, and the numbers
each panel plots against the same numbers computed here with NumPy (networks that did not learn left
out of the means), the rebuilt spectrum against the structure called directly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib import image
from scipy import stats
from test_claims import fig1_rows, learned, structure_rows

from rlnet.connectivity import DaleBalanced
from rlnet.experiments import paper_figures as F

PNG = b"\x89PNG\r\n\x1a\n"
MEASURES = ("initial_eigenvalue_effective_rank", "weight_change_norm", "representation_alignment",
            "kernel_alignment")


def celltype_dale_rows() -> list[dict]:
    """A second structure part (Fig. 2 A, C) with its own null, unlike the chain part's, and one
    network at chance."""
    rng = np.random.default_rng(1)
    rows = []
    for variant, shift in (("null", 0.0), ("celltype", -0.2), ("dale", -0.1)):
        for s in range(4):
            rows.append({"part": "fig2_2af_celltype_dale", "task": "2af", "variant": variant, "seed": s,
                         "diverged": False, "accuracy": 0.9, "probe_trials": 320, "n_hidden": 300, "g": 1.5,
                         **{m: 0.5 + shift + 0.02 * rng.standard_normal() for m in MEASURES}})
    rows.append({"part": "fig2_2af_celltype_dale", "task": "2af", "variant": "dale", "seed": 9, "diverged": False,
                 "accuracy": 0.5, "probe_trials": 320, "n_hidden": 300, "g": 1.5, **{m: 3.0 for m in MEASURES}})
    return rows


def fig4a_rows() -> list[dict]:
    rows = []
    for d in (2, 20):
        for rank, ka in ((1, 0.6), (2, 0.8)):
            for s in range(3):
                rows.append({"part": "fig4a_linear", "task": "studentteacher", "d": d, "rank": rank, "seed": s,
                             "diverged": False, "kernel_alignment": ka + 0.01 * s + 0.001 * d,
                             "eq18_expected_alignment": ka + 0.05 + 0.001 * s})
    rows.append({"part": "fig4a_linear", "task": "studentteacher", "d": 2, "rank": 2, "seed": 7, "diverged": True,
                 "kernel_alignment": 0.01, "eq18_expected_alignment": 0.85})
    return rows


def table() -> list[dict]:
    chain, _ = structure_rows()
    chain = [{**r, "n_hidden": 100, "g": 1.25, "probe_trials": 320} for r in chain]
    return fig1_rows() + chain + celltype_dale_rows() + fig4a_rows()


def kept(rows: list[dict]) -> list[dict]:
    """Networks that learned, by the hand-written flags (not the module's rule)."""
    return [r for r in rows if not r["diverged"] and r.get("accuracy", 1.0) > 0.6]


def check_series(s: F.Series, rows: list[dict], x: str, measure: str) -> None:
    """The series plots each kept network once, the left-out ones apart, and means and sds from NumPy."""
    ok = [r for r in kept(rows) if r.get(measure) is not None]
    out = [r for r in rows if r not in ok and r.get(measure) is not None]
    assert sorted(zip(map(str, s.x), s.y)) == sorted((str(r[x]), r[measure]) for r in ok)
    assert sorted(v for _, v in s.excluded) == sorted(r[measure] for r in out)
    assert set(map(str, s.means)) == {str(r[x]) for r in ok}
    for lv, (mean, sd, n) in s.means.items():
        ys = [r[measure] for r in ok if str(r[x]) == str(lv)]
        assert n == len(ys) and mean == pytest.approx(np.mean(ys), abs=1e-12)
        assert sd == pytest.approx(np.std(ys, ddof=1) if len(ys) > 1 else 0.0, abs=1e-12)


def test_files_are_pngs_and_figures_without_rows_are_reported(tmp_path):
    rows = table()
    written = F.write_figures(rows, tmp_path / "figures")
    assert set(written) == {"fig01", "fig02", "fig04", "fig16"}
    for stem, path in written.items():
        assert path == tmp_path / "figures" / f"{stem}.png" and path.read_bytes()[:8] == PNG
        img = image.imread(path)
        assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 200
    assert not (tmp_path / "figures" / "fig03.png").exists()
    why = F.not_drawn(rows)
    assert why["fig03"] == "not drawn: no rows of fig3b_linear, fig3c_smnist, fig3c_smnist_random_lowrank yet"
    assert why["fig01"] == "drawn without fig1_dms, fig1_cxt, fig1_smnist (no rows yet)"
    assert "fig02" in why and why["fig02"].startswith("drawn without fig2_2af_em")
    text = F.markdown(written, rows, tmp_path)
    assert "- figures/fig01.png: Fig. 1; drawn without" in text and "- fig03: no rows of fig3b_linear" in text
    assert "- figures/fig04.png: Fig. 4A, Fig. 4B; drawn without fig4b_mnist_ff" in text
    assert F.write_figures([], tmp_path / "none") == {} and not (tmp_path / "none").exists()


def test_rank_trend_panels_plot_the_networks_that_learned():
    rows = fig1_rows()
    fig, panels = F.draw(1, rows)
    assert len(panels) == 3 and len([a for a in fig.axes if a.get_visible()]) == 3
    for panel, m in zip(panels, ("weight_change_norm", "representation_alignment", "kernel_alignment")):
        check_series(panel.series[m], rows, "rank", m)
        ok = [r for r in learned(rows) if r[m] is not None]
        want = stats.spearmanr([r["rank"] for r in ok], [r[m] for r in ok])
        assert f"ρ={want.statistic:+.2f}, p={want.pvalue:.1e}, n={len(ok)}: " in panel.title
        assert panel.title.endswith("holds") == (m != "representation_alignment")  # RA is noise here
    dw = panels[0].series["weight_change_norm"]
    assert (300, 50.0) in dw.excluded and (1, 0.1) in dw.excluded  # diverged, at chance: grey, not in the mean


def test_versus_null_compares_each_structure_with_its_own_parts_null():
    rows = table()
    _, panels = F.draw(2, rows)
    # rows A (cell type), C (Dale), D (chain over and under); EM has no rows: 3 x (spectrum + 4 measures)
    assert len(panels) == 15
    assert [p.title.split(":")[0] for p in panels[1::5]] == ["2AF, cell-type statistics vs null (A)",
                                                            "2AF, Dale's law vs null (C)", "2AF (D)"]
    parts = ("fig2_2af_celltype_dale", "fig2_2af_celltype_dale", "fig2_2af_chain")
    groups = (["null", "celltype"], ["null", "dale"], ["null", "chain_over", "chain_under"])
    for i, (part, want_groups) in enumerate(zip(parts, groups)):
        sel = [r for r in rows if r["part"] == part and r["variant"] in want_groups]
        for j, m in enumerate(MEASURES):
            s = panels[5 * i + 1 + j].series[m]
            check_series(s, sel, "variant", m)
            assert list(s.means) == [g for g in want_groups if g in s.means]
    # the two nulls differ: each structure against the null of its own part
    ka_a, ka_d = panels[4].series["kernel_alignment"], panels[14].series["kernel_alignment"]
    assert ka_a.means["null"][0] != pytest.approx(ka_d.means["null"][0])
    a, b = ([r["kernel_alignment"] for r in kept(rows) if r["part"] == "fig2_2af_chain" and r["variant"] == v]
            for v in ("chain_under", "null"))
    p = stats.mannwhitneyu(a, b, alternative="two-sided").pvalue
    assert "chain_under: U=" in panels[14].title and f"p={p:.1e}, n=12: holds" in panels[14].title
    assert ("dale", 3.0) in panels[9].series["kernel_alignment"].excluded  # at chance: left out
    _, panels16 = F.draw(16, rows)
    assert len(panels16) == 6 and "initial_singular_value_effective_rank" in panels16[1].series


def test_spectrum_is_the_structure_rebuilt_with_the_rows_n_and_g():
    rows = table()
    _, panels = F.draw(2, rows)
    spec_c, spec_d = panels[5], panels[10]
    W = DaleBalanced(exc_fraction=0.8, g=1.5)(300, torch.Generator().manual_seed(0)).double().numpy()
    ev = np.sort(np.abs(np.linalg.eigvals(W)))[::-1]
    x, y = spec_c.curves["dale"]
    np.testing.assert_allclose(y, ev / ev[0], rtol=1e-10)
    np.testing.assert_allclose(x, np.arange(1, 301) / 300)
    assert set(spec_c.curves) == {"null", "dale"} and spec_c.note == ""
    assert set(spec_d.curves) == {"null", "chain_over", "chain_under"}
    for _, y in spec_d.curves.values():  # N = 100 from the rows, not the null config's 300
        assert len(y) == 100 and y[0] == 1.0 and np.all(np.diff(y) <= 0)
    # a variant with no shipped config: said in the panel, not an error
    assert isinstance(F.initial_spectrum("2af", "nonexistent", 100, 1.25), str)


def test_fig4a_plots_measured_and_theory_per_d():
    rows = fig4a_rows()
    _, panels = F.draw(4, rows)
    assert len(panels) == 2 and all("kernel_alignment" in p.series for p in panels)
    for panel, d in zip(panels, (2, 20)):
        sel = [r for r in rows if r["d"] == d]
        s = panel.series["kernel_alignment"]
        check_series(s, sel, "rank", "kernel_alignment")
        for rank in (1, 2):
            th = [r["eq18_expected_alignment"] for r in kept(sel) if r["rank"] == rank]
            assert s.theory[rank] == pytest.approx(np.mean(th), abs=1e-12)
        assert panel.title.startswith(f"linear, d = {d}: KA")
    assert (2, 0.01) in panels[0].series["kernel_alignment"].excluded


def test_fig3_draws_3b_against_kappa_with_theory_and_3c_per_variant():
    rows = []
    for init, ka in (("svd:1", 0.3), ("partial", 0.6), ("aligned", 0.9)):
        for kappa in (1, 5):
            for s in range(3):
                rows.append({"part": "fig3b_linear", "task": "studentteacher", "init": init, "kind": init.split(":")[0],
                             "kappa": kappa, "seed": s, "diverged": False, "kernel_alignment": ka + 0.01 * s,
                             "theory_kernel_alignment": ka + 0.02 * kappa})
    for v, ka in (("aligned", 0.8), ("aligned_partial", 0.7), ("smnist_fullrank", 0.5)):
        rows += [{"part": "fig3c_smnist", "task": "mnist", "variant": v, "seed": s, "diverged": False,
                  "accuracy": 0.95 if s else 0.1, "probe_trials": 200, "kernel_alignment": ka + 0.01 * s}
                 for s in range(4)]
    rows += [{"part": "fig3c_smnist_random_lowrank", "task": "mnist", "variant": "random_lowrank", "seed": s,
              "diverged": False, "accuracy": 0.95, "probe_trials": 200, "kernel_alignment": 0.4 + 0.01 * s}
             for s in range(4)]
    fig, panels = F.draw(3, rows)
    assert len(panels) == 2 and set(panels[0].series) == {"svd:1", "partial", "aligned"}
    for init, s in panels[0].series.items():
        sel = [r for r in rows if r.get("init") == init]
        check_series(s, sel, "kappa", "kernel_alignment")
        assert s.theory == {k: pytest.approx(np.mean([r["theory_kernel_alignment"] for r in sel if r["kappa"] == k]))
                            for k in (1, 5)}
    c = panels[1].series["kernel_alignment"]
    # the random full-rank control first, the random rank-150 control beside the partially aligned students
    assert list(c.means) == ["smnist_fullrank", "aligned", "aligned_partial", "random_lowrank"]
    check_series(c, [r for r in rows if r["part"].startswith("fig3c_smnist")], "variant", "kernel_alignment")
    assert len(c.excluded) == 3  # the three at chance
    assert len(fig.subfigs) == 2 and "Fig. 3B" in fig.subfigs[0]._suptitle.get_text()
