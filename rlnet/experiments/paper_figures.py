"""One PNG per figure of the paper, in the paper's layout, from the per-network table.

:func:`write_figures` takes the rows of :mod:`rlnet.experiments.network_table` (one per trained
network) and writes ``figNN.png`` (``fig01.png`` ... ``fig19.png``) for every figure of Liu et al.
(ICLR 2024) that has rows; :func:`not_drawn` says which figures were not drawn and why. The rows a
figure reads are those of the ``parts`` of its claims in :data:`rlnet.experiments.claims.CLAIMS`
(grouped by ``Claim.figure``; panels 3B and 3C share ``fig03.png``, 4A and 4B ``fig04.png``), and each
panel's title gives its claim's statistic, p and verdict from :func:`rlnet.experiments.claims.evaluate`.

Conventions (the captions of the paper's figures), :data:`LAYOUTS`:

* ``trend`` (Fig. 1 and those that follow it: 4A, 4B, 7-14, 18): one row of panels per task or setting
  (the ``where`` of the claims: task, N, lr, g, d), one column per measure (||ΔW||, RA, KA); x the
  initial rank (Fig. 8: the soft-rank exponent k), one equally spaced position per level; one dot
  per network (a small fixed horizontal jitter), black diamond and bar: mean ± sample sd (ddof = 1)
  of the networks that learned. A network that did not learn (:func:`~rlnet.experiments.claims.not_learned`:
  diverged or at chance) is a grey hollow marker, left out of the mean and of the test. Where the
  claim names a closed form (Fig. 4A: Eq. 18), its mean per level is a dashed line with open markers.
* ``versus`` (Fig. 2 and those that follow it: 5, 6, 16, 17, 19; 3C): one row per structure panel
  (A cell-type statistics, B EM, C Dale's law, D chain motifs over and under), each against the null
  networks *of its own part*; first column the spectrum of one initial ``W_h`` (seed 0) per variant,
  rebuilt from the shipped ``configs/{task}_{variant}.yaml`` with the rows' ``n_hidden`` and ``g`` through
  rlnet's allow-listed registry (:func:`rlnet.experiments.report.initial_matrix`): |eigenvalue| / max
  against index / N, sorted descending (Fig. 16: singular values); a matrix that cannot be rebuilt is
  said so in the panel. Then one boxplot per measure (networks that learned; each a dot; grey hollow:
  left out) with each claim's Mann-Whitney p and verdict.
* ``fig3b``: KA against kappa, one colour per initialisation (aligned, partial, random ``svd:1``),
  the closed form (``theory_kernel_alignment``) as open markers and a dashed line.
* ``before_after`` (Fig. 15): the kernel's effective rank at the start and at the end of training
  against the rank, the task's rank as a dashed line. Figs. 14 and 15 plot only the first and last
  value of each tracked series, which is what the table holds; the series themselves are in the
  run folders (``metrics.json``, section ``tracking``; ``rlnet report`` draws them as ``training.png``).

Each drawer returns what it plotted (:class:`Panel`): the values per network and the means, so that
the numbers in a figure can be checked against the table.
"""

from __future__ import annotations

import functools
import math
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlnet.experiments.claims import CLAIMS, Claim, _eq, _num, evaluate, not_learned, select_rows
from rlnet.experiments.claims import _levels as _claim_levels

LABELS = {"weight_change_norm": "‖ΔW‖_F", "representation_alignment": "RA", "kernel_alignment": "KA",
          "initial_eigenvalue_effective_rank": "eff. rank (eigenvalues)",
          "initial_singular_value_effective_rank": "eff. rank (singular values)",
          "track_kernel_alignment_final": "final KA(K_t, K_0)", "track_task_alignment_final": "final task alignment",
          "track_label_alignment_final": "final label alignment",
          "track_kernel_effective_rank_initial": "kernel eff. rank, start",
          "track_kernel_effective_rank_final": "kernel eff. rank, end"}
# Fig. 2's structure panels: the variants one row of panels holds.
PANEL_OF = {"celltype": "A", "em": "B", "dale": "C", "chain_over": "D", "chain_under": "D"}
EXCLUDED_STYLE = {"facecolors": "none", "edgecolors": "0.6", "s": 16, "linewidths": 0.8}
MAX_SPECTRUM_N = 1000  # larger W_h are not rebuilt for a figure


@dataclass
class Series:
    """One set of networks on a panel: each kept network's level and value, the mean, sample sd and
    n per level (kept networks only), the left-out networks (level, value), the closed form's mean per level."""

    x: list[Any] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    means: dict[Any, tuple[float, float, int]] = field(default_factory=dict)
    excluded: list[tuple[Any, float]] = field(default_factory=list)
    theory: dict[Any, float] = field(default_factory=dict)


@dataclass
class Panel:
    """What one panel plots: its title, its series by label, the spectra (label -> (index / N, value / max))."""

    title: str
    series: dict[str, Series] = field(default_factory=dict)
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    note: str = ""


# ---- which rows, which claims -------------------------------------------------------------------
def figure_number(key: str) -> int:
    """``Fig. 3B`` -> 3."""
    return int(re.match(r"Fig\. (\d+)", key).group(1))  # type: ignore[union-attr]


def figure_keys() -> dict[int, list[str]]:
    """Figure number -> the claim figures drawn in it (``Fig. 3B``, ``Fig. 3C``), in order."""
    out: dict[int, list[str]] = {}
    for c in CLAIMS:
        keys = out.setdefault(figure_number(c.figure), [])
        if c.figure not in keys:
            keys.append(c.figure)
    return dict(sorted(out.items()))


def figure_parts(key: str) -> list[str]:
    """The parts whose rows a claim figure reads (from its claims)."""
    return list(dict.fromkeys(p for c in CLAIMS if c.figure == key for p in c.parts))


def _levels(values: Sequence[Any]) -> list[Any]:
    return _claim_levels(v for v in values if v is not None)


def _stat(res: Mapping[str, Any] | None, name: str = "") -> str:
    if not res or res.get("verdict") == "missing":
        return ""
    p, s = res.get("pvalue"), res.get("statistic")
    if p is None or p != p:
        return f"{name}n={res['n']}, no test: {res['verdict']}"
    stat = f"ρ={s:+.2f}" if res["test"] == "spearman" else f"U={s:.0f}"
    return f"{name}{stat}, p={p:.1e}, n={res['n']}: {res['verdict']}"


# ---- the two drawers ----------------------------------------------------------------------------
def draw_trend(ax: Any, rows: Sequence[Mapping[str, Any]], x: str, measure: str, levels: Sequence[Any],
               theory: str | None = None, color: str = "C0", offset: float = 0.0, label: str | None = None,
               width: float = 0.12) -> Series:
    """Fig. 1's panel: one dot per network at the position of its level of ``x`` (+ ``offset``, jittered
    by up to ``width``), the mean ± sd of those that learned, grey hollow markers for those that did not."""
    rng = np.random.default_rng(0)
    s = Series()
    pos = {lv: k for k, lv in enumerate(levels)}
    for r in rows:
        lv, v = next((lv for lv in levels if _eq(r.get(x), lv)), None), _num(r.get(measure))
        if lv is None or v is None:
            continue
        if not_learned(r) is None:
            s.x.append(lv)
            s.y.append(v)
        else:
            s.excluded.append((lv, v))
    jit = rng.uniform(-width, width, len(s.x))
    ax.scatter([pos[lv] + offset + j for lv, j in zip(s.x, jit)], s.y, s=14, alpha=0.7, color=color, label=label)
    if s.excluded:
        jx = rng.uniform(-width, width, len(s.excluded))
        ax.scatter([pos[lv] + offset + j for (lv, _), j in zip(s.excluded, jx)],
                   _on_scale(ax, s.y, [v for _, v in s.excluded]), **EXCLUDED_STYLE)
    for lv in levels:
        ys = [v for xv, v in zip(s.x, s.y) if xv == lv]
        if ys:
            sd = float(np.std(ys, ddof=1)) if len(ys) > 1 else 0.0
            s.means[lv] = (float(np.mean(ys)), sd, len(ys))
            ax.errorbar(pos[lv] + offset, s.means[lv][0], yerr=sd, fmt="D", color="k", mfc=color, ms=5, capsize=3,
                        zorder=5)
        th = [_num(r.get(theory)) for r in rows if theory and _eq(r.get(x), lv) and not_learned(r) is None
              and _num(r.get(measure)) is not None]
        th = [t for t in th if t is not None]
        if th:
            s.theory[lv] = float(np.mean(th))
    if s.theory:
        ks = [lv for lv in levels if lv in s.theory]
        ax.plot([pos[lv] + offset for lv in ks], [s.theory[lv] for lv in ks], "--o", color=color, mfc="none",
                ms=6, lw=1, zorder=4, label=f"{label}: closed form" if label else "closed form")
    ax.set_xticks(range(len(levels)), [f"{_num(lv):g}" if _num(lv) is not None else str(lv) for lv in levels])
    ax.set_xlim(-0.6, len(levels) - 0.4)
    _say_if_empty(ax, s, measure)
    return s


def draw_versus(ax: Any, rows: Sequence[Mapping[str, Any]], field_: str, groups: Sequence[Any],
                measure: str) -> Series:
    """Fig. 2's panel: a boxplot per group (the null first) of the networks that learned, each a dot;
    grey hollow: networks left out."""
    rng = np.random.default_rng(0)
    s = Series()
    data = []
    for k, g in enumerate(groups):
        ys, out = [], []
        for r in rows:
            v = _num(r.get(measure))
            if v is None or not _eq(r.get(field_), g):
                continue
            (ys if not_learned(r) is None else out).append(v)
        s.x += [g] * len(ys)
        s.y += ys
        s.excluded += [(g, v) for v in out]
        data.append(ys)
        if ys:
            s.means[g] = (float(np.mean(ys)), float(np.std(ys, ddof=1)) if len(ys) > 1 else 0.0, len(ys))
            ax.scatter(k + rng.uniform(-0.1, 0.1, len(ys)), ys, s=12, alpha=0.7, color=f"C{k % 10}", zorder=3)
        if out:
            ax.scatter(k + rng.uniform(-0.1, 0.1, len(out)), _on_scale(ax, [v for d in data for v in d] + ys, out),
                       zorder=3, **EXCLUDED_STYLE)
    ax.boxplot([d if d else [math.nan] for d in data], positions=range(len(groups)), widths=0.5, showfliers=False,
               medianprops={"color": "k"})
    ax.set_xticks(range(len(groups)), [str(g) for g in groups], rotation=20, fontsize=7)
    _say_if_empty(ax, s, measure)
    return s


def _on_scale(ax: Any, kept: Sequence[float], excluded: Sequence[float]) -> list[float]:
    """The excluded values to draw: a diverged network's measure can be 1e18, which would flatten the
    panel; so values more than the kept range away from it are pinned to the panel's edge, and the
    panel says how many (the returned series keeps the true values)."""
    if not kept:
        return list(excluded)
    lo, hi = min(kept), max(kept)
    pad = max(hi - lo, abs(hi) * 0.05, 1e-12)
    lo_edge, hi_edge = lo - pad, hi + pad
    off = sum(1 for v in excluded if not lo_edge <= v <= hi_edge)
    if off:
        ax.text(0.99, 0.01, f"{off} left out, off scale (pinned to the edge)", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=6, color="grey")
    return [min(max(v, lo_edge), hi_edge) for v in excluded]


def _say_if_empty(ax: Any, s: Series, measure: str) -> None:
    if not s.y and not s.excluded:
        ax.text(0.5, 0.5, f"no values of {measure}", ha="center", va="center", fontsize=7, transform=ax.transAxes)


def initial_spectrum(task: str, variant: str, n_hidden: Any, g: Any, seed: int = 0,
                     kind: str = "eig") -> tuple[np.ndarray, np.ndarray] | str:
    """Index / N and |eigenvalue| / max (``kind='sv'``: singular value / max), sorted descending, of the
    initial ``W_h`` of ``configs/{task}_{variant}.yaml`` at ``n_hidden`` and ``g``; a reason if not rebuilt."""
    import torch
    import yaml

    from rlnet.experiments.report import initial_matrix
    from rlnet.resources import resolve

    path = resolve(f"configs/{task}_{variant}.yaml")
    if path is None:
        return f"no shipped configs/{task}_{variant}.yaml"
    cfg = yaml.safe_load(path.read_text())
    model = (cfg.get("model") or {}).get("init_args") or {}
    n = _num(n_hidden)
    if n is not None:
        model["n_hidden"] = int(n)
    if not isinstance(model.get("n_hidden"), int) or model["n_hidden"] > MAX_SPECTRUM_N:
        return f"N = {model.get('n_hidden')} not rebuilt"
    conn = model.get("connectivity")
    if _num(g) is not None and isinstance(conn, dict) and "g" in (conn.get("init_args") or {}):
        conn["init_args"]["g"] = float(_num(g))  # type: ignore[arg-type]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: N <= 1000 takes < 1 s; more threads fight a busy machine's cores
    try:
        W = initial_matrix(cfg, seed)
        if W is None:
            return f"{path.name}: its structure cannot be rebuilt from the config"
        Wt = torch.from_numpy(W)
        vals = (torch.linalg.eigvals(Wt).abs() if kind == "eig" else torch.linalg.svdvals(Wt)).numpy()
    finally:
        torch.set_num_threads(threads)
    vals = np.sort(vals)[::-1]
    n = len(vals)
    return np.arange(1, n + 1) / n, vals / vals[0] if vals[0] > 0 else vals


def draw_spectrum(ax: Any, task: str, variants: Sequence[str], rows: Sequence[Mapping[str, Any]],
                  kind: str = "eig") -> Panel:
    """The initial spectrum of each variant (seed 0) on one panel, null and structures overlaid."""
    p = Panel(title=f"{task.upper()}: initial W_h, seed 0")
    notes = []
    for k, v in enumerate(variants):
        first = next((r for r in rows if _eq(r.get("variant"), v)), None)
        if first is None:
            continue
        got = initial_spectrum(task, v, first.get("n_hidden"), first.get("g"), 0, kind)
        if isinstance(got, str):
            notes.append(f"{v}: {got}")
            continue
        p.curves[v] = got
        ax.plot(*got, color=f"C{k % 10}", label=v, lw=1.2)
    if p.curves:
        ax.legend(fontsize=6)
    p.note = "; ".join(notes)
    if notes:
        ax.text(0.5, 0.5, "not rebuilt:\n" + "\n".join(notes), ha="center", va="center", fontsize=6, wrap=True,
                transform=ax.transAxes)
    ax.set_xlabel("index / N", fontsize=7)
    ax.set_ylabel("|eigenvalue| / max" if kind == "eig" else "singular value / max", fontsize=7)
    return p


# ---- layouts: a claim figure -> rows of panels (each a function of its axes) ----------------------
PanelSpec = Callable[[Any], Panel]
Results = Mapping[str, Mapping[str, Any]]


def _trend_panel(ax: Any, rows, claim: Claim, row_label: str, results: Results) -> Panel:
    sel = select_rows(rows, claim)
    levels = _levels([r.get(claim.x) for r in sel])
    s = draw_trend(ax, sel, claim.x or "rank", claim.measure, levels, theory=claim.theory)
    title = f"{row_label}: {LABELS.get(claim.measure, claim.measure)}\n{_stat(results.get(claim.key))}"
    ax.set_title(title, fontsize=7)
    ax.set_xlabel({"rank": "initial rank", "k": "soft-rank exponent k"}.get(claim.x or "", claim.x), fontsize=7)
    return Panel(title, {claim.measure: s})


def trend_layout(key: str, rows, results: Results) -> list[list[PanelSpec]]:
    """Fig. 1's convention: a row per setting (the claims' parts and ``where``), a column per measure;
    a single row when every setting has one measure (Fig. 4A: one panel per d)."""
    groups: dict[tuple, list[Claim]] = {}
    for c in CLAIMS:
        if c.figure == key and c.test == "spearman":
            groups.setdefault((c.parts, tuple(c.where.items())), []).append(c)
    grid = [[functools.partial(_trend_panel, rows=rows, claim=c, row_label=c.claim.split(":")[0], results=results)
             for c in cs] for cs in groups.values() if select_rows(rows, cs[0])]
    return [[p for row in grid for p in row]] if grid and all(len(r) == 1 for r in grid) else grid


def _versus_panel(ax: Any, rows, claims: Sequence[Claim], results: Results, label: str) -> Panel:
    c0 = claims[0]
    sel = select_rows(rows, c0)
    groups = list(dict.fromkeys(g for c in claims for g in (c.reference, c.group)))  # null first
    s = draw_versus(ax, sel, c0.x or "variant", groups, c0.measure)
    stats = [_stat(results.get(c.key), f"{c.group}" + ("" if c.reference == "null" else f" vs {c.reference}")
                   + ": ") for c in claims]
    title = f"{label}: {LABELS.get(c0.measure, c0.measure)}\n" + "\n".join(x for x in stats if x)
    ax.set_title(title, fontsize=7)
    return Panel(title, {c0.measure: s})


def _spectrum_panel(ax: Any, rows, claims: Sequence[Claim], kind: str) -> Panel:
    c0 = claims[0]
    variants = list(dict.fromkeys(g for c in claims for g in (c.reference, c.group)))
    p = draw_spectrum(ax, str(c0.where.get("task", "")), variants, select_rows(rows, c0), kind)
    ax.set_title(p.title, fontsize=7)
    return p


def versus_layout(key: str, rows, results: Results, spectrum: str | None = "eig",
                  one_row: bool = False) -> list[list[PanelSpec]]:
    """Fig. 2's convention: a row per structure panel (the claims' part, task and panel letter: chain
    motifs over and under share D; ``one_row``: every group in one row), the spectrum, then a boxplot
    per measure."""
    groups: dict[tuple, dict[str, list[Claim]]] = {}
    for c in CLAIMS:
        if c.figure == key and c.test == "mannwhitney" and c.x is not None:
            panel = "" if one_row else PANEL_OF.get(c.group, c.group)
            groups.setdefault((c.parts, tuple(c.where.items()), panel), {}).setdefault(c.measure, []).append(c)
    grid = []
    for (_, _, panel), by_measure in groups.items():
        claims = next(iter(by_measure.values()))
        sel = select_rows(rows, claims[0])
        if not any(_eq(r.get(claims[0].x), c.group) for r in sel for c in claims):
            continue
        variants = {c.group for cs in by_measure.values() for c in cs}
        label = claims[0].claim.split(":" if len(variants) == 1 else ",")[0] \
            + (f" ({panel})" if panel in PANEL_OF.values() else "")
        row: list[PanelSpec] = []
        if spectrum:
            row.append(functools.partial(_spectrum_panel, rows=rows, claims=claims, kind=spectrum))
        row += [functools.partial(_versus_panel, rows=rows, claims=cs, results=results, label=label)
                for cs in by_measure.values()]
        grid.append(row)
    return grid


def _fig3b_panel(ax: Any, rows, claims: Sequence[Claim], results: Results) -> Panel:
    mw = [c for c in claims if c.test == "mannwhitney"]
    sel = [r for r in rows if str(r.get("part")) in mw[0].parts]
    kinds = [mw[0].reference, *dict.fromkeys(c.group for c in mw)]
    levels = _levels([r.get("kappa") for r in sel])
    p = Panel("")
    for k, kind in enumerate(kinds):
        sub = [r for r in sel if _eq(r.get(mw[0].x), kind)]
        p.series[str(kind)] = draw_trend(ax, sub, "kappa", "kernel_alignment", levels, theory=mw[0].theory,
                                         color=f"C{k}", offset=(k - 1) * 0.25, label=str(kind), width=0.06)
    stats = [_stat(results.get(c.key), f"{c.key.split('.', 1)[1]}: ") for c in claims]
    p.title = "linear: KA against kappa (open: closed form)\n" + "\n".join(x for x in stats if x)
    ax.set_title(p.title, fontsize=7)
    ax.set_xlabel("kappa (condition number of F)", fontsize=7)
    ax.legend(fontsize=6)
    return p


def fig3b_layout(key: str, rows, results: Results) -> list[list[PanelSpec]]:
    """Fig. 3B: KA against kappa per initialisation, the closed form beside the measured dots."""
    claims = [c for c in CLAIMS if c.figure == key]
    if not select_rows(rows, claims[0]):
        return []
    return [[functools.partial(_fig3b_panel, rows=rows, claims=claims, results=results)]]


def _before_after_panel(ax: Any, rows, claim: Claim, results: Results) -> Panel:
    sel = select_rows(rows, claim)
    levels = _levels([r.get("rank") for r in sel])
    p = Panel("")
    for k, m in enumerate((claim.reference_measure or "", claim.measure)):
        p.series[m] = draw_trend(ax, sel, "rank", m, levels, color=f"C{k}", offset=(k - 0.5) * 0.3,
                                 label=LABELS.get(m, m), width=0.08)
    if claim.target is not None:
        ax.axhline(claim.target, ls="--", color="k", lw=1, label=f"task's rank {claim.target:g}")
    p.title = f"{claim.claim.split(':')[0]}: kernel effective rank\n{_stat(results.get(claim.key))}"
    ax.set_title(p.title, fontsize=7)
    ax.set_xlabel("initial rank", fontsize=7)
    ax.legend(fontsize=6)
    return p


def before_after_layout(key: str, rows, results: Results) -> list[list[PanelSpec]]:
    """Fig. 15: start and end of a tracked series against the rank, one panel per part."""
    row: list[PanelSpec] = [functools.partial(_before_after_panel, rows=rows, claim=c, results=results)
                            for c in CLAIMS if c.figure == key and select_rows(rows, c)]
    return [row] if row else []


TREND, VERSUS = trend_layout, versus_layout
LAYOUTS: dict[str, Callable[..., list[list[PanelSpec]]]] = {
    "Fig. 1": TREND, "Fig. 2": VERSUS, "Fig. 3B": fig3b_layout,
    "Fig. 3C": functools.partial(VERSUS, spectrum=None, one_row=True), "Fig. 4A": TREND, "Fig. 4B": TREND,
    "Fig. 5": VERSUS, "Fig. 6": VERSUS, "Fig. 7": TREND, "Fig. 8": TREND, "Fig. 9": TREND, "Fig. 10": TREND,
    "Fig. 11": TREND, "Fig. 12": TREND, "Fig. 13": TREND, "Fig. 14": TREND, "Fig. 15": before_after_layout,
    "Fig. 16": functools.partial(VERSUS, spectrum="sv"), "Fig. 17": VERSUS, "Fig. 18": TREND, "Fig. 19": VERSUS}
CONVENTION = {TREND: "dots: networks; diamond and bar: mean ± sd of those that learned; grey hollow: did not "
                     "learn, left out",
              VERSUS: "boxes and dots: networks that learned; grey hollow: did not learn, left out"}


# ---- figures ------------------------------------------------------------------------------------
def _results(rows, results: Sequence[Mapping[str, Any]] | None) -> dict[str, Mapping[str, Any]]:
    return {r["key"]: r for r in (evaluate(rows) if results is None else results)}


def draw(number: int, rows: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]] | None = None):
    """Figure ``number`` of the paper from ``rows``: ``(matplotlib figure, panels)``, ``(None, [])`` without rows."""
    from rlnet.experiments.report import _plt

    res = results if isinstance(results, dict) else _results(rows, results)
    grids = [(k, g) for k in figure_keys().get(number, []) if (g := LAYOUTS[k](k, rows, res))]
    if not grids:
        return None, []
    plt = _plt()
    ncols = max(len(r) for _, g in grids for r in g)
    nrows = sum(len(g) for _, g in grids)
    fig = plt.figure(figsize=(3.3 * ncols + 0.4, 2.9 * nrows + 0.7 * len(grids)), layout="constrained")
    subs = list(np.ravel(fig.subfigures(len(grids), 1, height_ratios=[len(g) + 0.3 for _, g in grids]))) \
        if len(grids) > 1 else [fig]
    panels: list[Panel] = []
    for sub, (key, grid) in zip(subs, grids):
        axes = sub.subplots(len(grid), max(len(r) for r in grid), squeeze=False)
        layout = LAYOUTS[key].func if isinstance(LAYOUTS[key], functools.partial) else LAYOUTS[key]
        title = f"{key}" + (f" ({CONVENTION[layout]})" if layout in CONVENTION else "")
        sub.suptitle(textwrap.fill(title, 55 * max(len(r) for r in grid)), fontsize=9)
        for i, row in enumerate(grid):
            for j in range(axes.shape[1]):
                if j < len(row):
                    panels.append(row[j](axes[i][j]))
                    axes[i][j].tick_params(labelsize=7)
                else:
                    axes[i][j].set_visible(False)
    return fig, panels


def write_figures(rows: Sequence[Mapping[str, Any]], out_dir: str | Path,
                  results: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Path]:
    """Write ``figNN.png`` to ``out_dir`` for every figure with rows; returns ``{"fig01": path, ...}``."""
    from rlnet.experiments.report import _plt

    out = Path(out_dir)
    res = _results(rows, results)
    written: dict[str, Path] = {}
    for number in figure_keys():
        fig, _ = draw(number, rows, res)  # type: ignore[arg-type]
        if fig is None:
            continue
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"fig{number:02d}.png"
        fig.savefig(path, dpi=110)
        _plt().close(fig)
        written[path.stem] = path
    return written


def not_drawn(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Why each figure is not drawn (``figNN`` -> reason), or drawn without some of its parts."""
    seen = {str(r.get("part")) for r in rows}
    out = {}
    for number, keys in figure_keys().items():
        parts = [p for k in keys for p in figure_parts(k)]
        absent = [p for p in parts if p not in seen]
        if len(absent) == len(parts):
            out[f"fig{number:02d}"] = f"not drawn: no rows of {', '.join(absent)} yet"
        elif absent:
            out[f"fig{number:02d}"] = f"drawn without {', '.join(absent)} (no rows yet)"
    return out


def markdown(written: Mapping[str, Path], rows: Sequence[Mapping[str, Any]], relative_to: Path | None = None) -> str:
    """The figures written and those not drawn (or drawn in part), as a Markdown section."""
    why = not_drawn(rows)
    lines = ["## Figures", ""]
    for stem, path in written.items():
        shown = path.relative_to(relative_to) if relative_to else path
        keys = ", ".join(figure_keys()[int(stem[3:])])
        lines.append(f"- {shown}: {keys}" + (f"; {why[stem]}" if stem in why else ""))
    if not written:
        lines.append("(none: no rows of any figure's parts)")
    missing = [f"{stem}: {w.removeprefix('not drawn: ')}" for stem, w in why.items() if stem not in written]
    if missing:
        lines += ["", "Not drawn:", "", *[f"- {m}" for m in missing]]
    return "\n".join(lines) + "\n"


def figures_for_report(results_path: str | Path, out: str | Path) -> str | None:
    """``rlnet report``'s hook: if the results hold rows of any part a claim reads, write the figures to
    ``out`` and return their Markdown; else None (nothing written)."""
    from rlnet.experiments.network_table import load_rows

    try:
        rows = load_rows(results_path)
    except (ValueError, OSError):
        return None
    if not {str(r.get("part")) for r in rows} & {p for c in CLAIMS for p in c.parts}:
        return None
    return markdown(write_figures(rows, out), rows, Path(out).parent)
