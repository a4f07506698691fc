"""The paper's claims, one row each, tested on the per-network results table.

:data:`CLAIMS` declares every claim of Liu et al. (ICLR 2024) that a figure makes: which parts of
the paper run (sweep names) and which rows it reads, the measure, the test and the paper's
direction. :func:`evaluate` turns a list of per-network rows (plain dicts, as
:mod:`rlnet.experiments.network_table` writes them) into one result per claim.

Tests (paper App. C.2: SciPy, across seeds):

* ``spearman``: Spearman's rho of the measure against an ordered variable (the initial rank, kappa,
  the soft-rank exponent k), over every network of the claim (``scipy.stats.spearmanr``);
* ``mannwhitney``: two-sided Mann-Whitney U of one group against a reference (a structure against
  the null, an aligned init against a random one, the last value of a series against its first)
  (``scipy.stats.mannwhitneyu``). Its direction is the sign of ``U / (n_1 n_2) - 1/2`` (the
  probability that a network of the group exceeds one of the reference, minus one half).

Verdict at ``alpha`` (0.05): ``holds`` (p < alpha, the paper's direction), ``opposite`` (p < alpha,
the other way), ``not significant``, ``missing`` (no rows yet). A claim of *no* difference
(direction 0, Fig. 19) ``holds`` when p >= alpha and is ``opposite`` when p < alpha; not rejecting
is weak evidence of no effect, and the table shows n beside it.

A network that did not learn is left out of every test and counted with its reason: it diverged,
or its final accuracy is at chance, i.e. not above ``chance + 3 sqrt(chance (1 - chance) / n)`` on
its ``n`` probe trials (three binomial standard errors; chance 1/2 for the two-choice Neurogym tasks,
1/10 for MNIST). A network whose measure is undefined (e.g. RA of a silent network) is left out of
that claim and counted too. Regression tasks (linear, pattern) have no accuracy: only divergence.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ALPHA = 0.05
VERDICTS = ("holds", "opposite", "not significant", "missing")
# Chance accuracy at the decision step / last step, by task name (network_table's ``task``).
CHANCE = {"2af": 0.5, "dms": 0.5, "cxt": 0.5, "mnist": 0.1}
DEFAULT_PROBE_TRIALS = {"2af": 320, "dms": 320, "cxt": 320, "mnist": 200}


@dataclass(frozen=True)
class Claim:
    """One claim of the paper and how to test it.

    Attributes:
        key: unique id, e.g. ``fig1.2af.dW``.
        figure: the paper's figure, e.g. ``Fig. 1``.
        claim: the claim in a few words.
        parts: the sweeps (parts of the paper run) whose rows it reads.
        where: further row selection, field -> value (or tuple of accepted values).
        measure: the field tested.
        test: ``spearman`` or ``mannwhitney``.
        x: Spearman's ordered variable, or the field holding Mann-Whitney's groups.
        group, reference: the two values of ``x`` that Mann-Whitney compares (group minus reference);
            with ``x = None``, ``measure`` (group) is compared with ``reference_measure`` on the same rows.
        direction: the sign the paper predicts (rho, or group against reference); 0: no difference.
        theory: a field holding each network's closed-form value, shown beside the measured one.
        target: compare ``|log(value / target)|`` instead of the value (Fig. 15: distance to the task's).
        note: what the reader should know (paper vs here).
    """

    key: str
    figure: str
    claim: str
    parts: tuple[str, ...]
    measure: str
    test: str
    x: str | None
    direction: int
    where: Mapping[str, Any] = field(default_factory=dict)
    group: Any = None
    reference: Any = None
    reference_measure: str | None = None
    theory: str | None = None
    target: float | None = None
    note: str = ""


# ---- the declared table -------------------------------------------------------------------------
LAZINESS = (("weight_change_norm", "dW", "||ΔW||", -1), ("representation_alignment", "RA", "RA", +1),
            ("kernel_alignment", "KA", "KA", +1))
TASKS = ("2af", "dms", "cxt")
STRUCTURES = {  # variant -> (label, part suffix)
    "celltype": ("cell-type statistics", "celltype_dale"), "em": ("EM connectivity", "em"),
    "dale": ("Dale's law", "celltype_dale"), "chain_over": ("chain motifs over", "chain"),
    "chain_under": ("chain motifs under", "chain")}
STRUCTURE_FIG = {"2af": "Fig. 2", "dms": "Fig. 5", "cxt": "Fig. 6"}


def rank_trend(key: str, figure: str, what: str, parts: Sequence[str], where: Mapping[str, Any] | None = None,
               x: str = "rank", sign: int = +1, measures=LAZINESS, note: str = "") -> list[Claim]:
    """Fig. 1's claim: higher initial rank -> smaller ||ΔW||, larger RA and KA (``sign = -1`` when
    larger ``x`` means lower rank, as the soft-rank exponent k)."""
    out = []
    for m, short, label, d in measures:
        arrow = "smaller" if d * sign < 0 else "larger"
        lower = " (lower rank)" if sign < 0 else ""
        out.append(Claim(f"{key}.{short}", figure, f"{what}: higher {x}{lower} -> {arrow} {label}",
                         tuple(parts), m, "spearman", x, d * sign, dict(where or {}), note=note))
    return out


def versus_null(figure: str, task: str, variant: str, label: str, parts: Sequence[str],
                measures: Sequence[str] = ("eig", "dW", "RA", "KA"), direction_scale: int = 1,
                note: str = "", reference: str = "null") -> list[Claim]:
    """Fig. 2's claim: the structure has a lower effective rank than the null and learns richer
    (larger ||ΔW||, smaller RA and KA); ``direction_scale = 0``: no difference (Fig. 19);
    ``direction_scale = -1`` against another ``reference``: the variant is the lazier one (Fig. 19's
    shuffled EM against the EM)."""
    spec = {"eig": ("initial_eigenvalue_effective_rank", "eff. rank (eigenvalues)", -1),
            "sv": ("initial_singular_value_effective_rank", "eff. rank (singular values)", -1),
            "dW": ("weight_change_norm", "||ΔW||", +1), "RA": ("representation_alignment", "RA", -1),
            "KA": ("kernel_alignment", "KA", -1)}
    out = []
    for k in measures:
        m, lab, d = spec[k]
        d *= direction_scale
        words = "same" if d == 0 else ("higher" if d > 0 else "lower")
        suffix = "" if reference == "null" else f".vs_{reference}"
        out.append(Claim(f"{figure.lower().replace('. ', '')}.{task}.{variant}{suffix}.{k}", figure,
                         f"{task.upper()}, {label} vs {reference}: {words} {lab}", tuple(parts), m, "mannwhitney",
                         "variant", d, {"task": task}, group=variant, reference=reference, note=note))
    return out


def _declare() -> list[Claim]:
    c: list[Claim] = []
    # Fig. 1: the rank trend, per task.
    for t in TASKS:
        c += rank_trend(f"fig1.{t}", "Fig. 1", t.upper(), [f"fig1_{t}"])
    c += rank_trend("fig1.smnist", "Fig. 1", "sMNIST", ["fig1_smnist"])
    # Fig. 2, 5, 6 (eigenvalue effective rank and laziness) and 16 (singular values), per structure and task.
    for t in TASKS:
        for v, (label, suffix) in STRUCTURES.items():
            fig, part = STRUCTURE_FIG[t], f"{STRUCTURE_FIG[t].lower().replace('. ', '')}_{t}_{suffix}"
            note = ("App. C.1 gives tau_chn = -0.1 for under-representation (Fig. 2D's caption names only "
                    "over-representation); at N = 100 that statistic brings an imaginary outlier pair "
                    "+-i g sqrt(N |rho|), so a lower effective rank than the null (docs/connectivity.md)"
                    if v == "chain_under" else "")
            c += versus_null(fig, t, v, label, [part], note=note)
            c += versus_null("Fig. 16", t, v, label, [part], measures=("sv",))
    # Fig. 3B: aligned and partially aligned inits against random rank-1 ones, and the trend in kappa.
    for kind, label in (("aligned", "aligned"), ("partial", "partially aligned")):
        c.append(Claim(f"fig3b.{kind}", "Fig. 3B", f"linear, {label} init vs random rank-1: higher KA",
                       ("fig3b_linear",), "kernel_alignment", "mannwhitney", "init", +1,
                       group=kind, reference="svd:1", theory="theory_kernel_alignment"))
    c.append(Claim("fig3b.partial.kappa", "Fig. 3B", "linear, partially aligned init: KA rises with kappa",
                   ("fig3b_linear",), "kernel_alignment", "spearman", "kappa", +1, {"kind": "partial"},
                   theory="theory_kernel_alignment"))
    # Fig. 3C: sMNIST students aligned with a trained teacher against random full-rank inits, and the
    # partially aligned (rank-150) ones against random rank-150 inits, the paper's "random low-rank".
    fig3c = ("fig3c_smnist", "fig3c_smnist_random_lowrank")
    for v, label in (("aligned", "aligned"), ("aligned_partial", "partially aligned")):
        c.append(Claim(f"fig3c.{v}", "Fig. 3C", f"sMNIST, {label} with the teacher vs random: higher KA",
                       fig3c, "kernel_alignment", "mannwhitney", "variant", +1,
                       group=v, reference="smnist_fullrank",
                       note="random control: configs/smnist_fullrank.yaml (variant smnist_fullrank)"))
    c.append(Claim("fig3c.aligned_partial.lowrank", "Fig. 3C",
                   "sMNIST, partially aligned with the teacher vs random of the same rank (150): higher KA",
                   fig3c, "kernel_alignment", "mannwhitney", "variant", +1,
                   group="aligned_partial", reference="random_lowrank",
                   note="random control: configs/fig3c/random_lowrank.yaml (variant random_lowrank)"))
    # Fig. 4A: linear network, KA rises with the rank of W_1 (Theorem 1), per d; 4B: MNIST, 784-300-10.
    for d in (2, 20, 100):
        c.append(Claim(f"fig4a.d{d}", "Fig. 4A", f"linear, d = {d}: higher rank of W_1 -> larger KA",
                       ("fig4a_linear",), "kernel_alignment", "spearman", "rank", +1, {"d": d},
                       theory="eq18_expected_alignment",
                       note="theory: Theorem 1's expectation over teachers (Eq. 18) at each init"))
    c += rank_trend("fig4b", "Fig. 4B", "MNIST 784-300-10", ["fig4b_mnist_ff"])
    # Fig. 7-13, 17, 18: the Fig. 1 trend under other settings.
    for t in TASKS:
        c += rank_trend(f"fig7.{t}", "Fig. 7", f"{t.upper()}, uniform draw", ["fig7_uniform"], {"task": t})
        c += rank_trend(f"fig8.{t}", "Fig. 8", f"{t.upper()}, soft rank", ["fig8_softrank"], {"task": t},
                        x="k", sign=-1, note="greater k, lower effective rank")
    for n in (100, 200, 300):
        c += rank_trend(f"fig9.n{n}", "Fig. 9", f"CXT, N = {n}", ["fig9_size"], {"n_hidden": n})
    for lr in (0.001, 0.003, 0.01):
        c += rank_trend(f"fig10.lr{lr}", "Fig. 10", f"CXT, lr = {lr}", ["fig10_lr"], {"lr": lr})
    for g in (1.0, 1.5, 2.0):
        c += rank_trend(f"fig11.g{g}", "Fig. 11", f"CXT, g = {g}", ["fig11_gain"], {"g": g},
                        note="the paper: holds for g in [1, 2], weaker below 1 (g = 0.5 is run, not claimed)")
    for t in TASKS:
        c += rank_trend(f"fig12.{t}", "Fig. 12", f"{t.upper()}, dt = 20 ms", ["fig12_dt"], {"task": t})
        c += rank_trend(f"fig13.{t}", "Fig. 13", f"{t.upper()}, leading eigenvalue matched",
                        ["fig13_eigennorm"], {"task": t})
        c += versus_null("Fig. 17", t, "dale_trained", "Dale's law kept in training", ["fig17_dale_training"])
    c += rank_trend("fig18", "Fig. 18", "pattern generation", ["fig18_pattern"])
    # Fig. 14: low rank moves the kernel more and aligns with the task later; Fig. 15: the kernel's
    # effective rank approaches the task's during training.
    for part, name, task_rank in (("fig14_15_linear", "linear", 1.0), ("fig14_15_smnist", "sMNIST", 10.0)):
        c.append(Claim(f"fig14.{name}.K0", "Fig. 14", f"{name}: higher rank -> final kernel closer to K_0",
                       (part,), "track_kernel_alignment_final", "spearman", "rank", +1))
        measure = "track_task_alignment_final" if name == "linear" else "track_label_alignment_final"
        c.append(Claim(f"fig14.{name}.task", "Fig. 14", f"{name}: higher rank -> higher final "
                       + ("task alignment" if name == "linear" else "centred label alignment"),
                       (part,), measure, "spearman", "rank", +1))
        c.append(Claim(f"fig15.{name}", "Fig. 15", f"{name}: kernel effective rank ends closer to the task's "
                       f"({task_rank:g}) than it starts", (part,), "track_kernel_effective_rank_final",
                       "mannwhitney", None, -1, reference_measure="track_kernel_effective_rank_initial",
                       target=task_rank,
                       note=f"distance |log(r / {task_rank:g})|; the task's kernel "
                            + ("y y^T has rank 1" if name == "linear" else "over 10 balanced classes has about 10")))
    # Fig. 19: shuffling the EM matrix (sparsity kept) removes its low rank and its effect.
    c += versus_null("Fig. 19", "2af", "em_shuffled", "shuffled EM", ["fig19_em_shuffled"], direction_scale=0,
                     note="a claim of no difference: holds when not significant")
    c += versus_null("Fig. 19", "2af", "em_shuffled", "shuffled EM", ["fig19_em_shuffled"], direction_scale=-1,
                     reference="em", note="shuffling destroys the EM's low rank and its effect: the shuffled "
                     "matrix has a higher effective rank than the EM and learns lazier")
    return c


CLAIMS: list[Claim] = _declare()


# ---- evaluation ---------------------------------------------------------------------------------
def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _eq(a: Any, b: Any) -> bool:
    fa, fb = _num(a), _num(b)
    if fa is not None and fb is not None:
        return math.isclose(fa, fb, rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)


def _matches(row: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    for k, want in where.items():
        accepted = want if isinstance(want, tuple) else (want,)
        if not any(_eq(row.get(k), w) for w in accepted):
            return False
    return True


def not_learned(row: Mapping[str, Any]) -> str | None:
    """Why a network counts as not having learned its task (None if it learned)."""
    if str(row.get("diverged")).lower() in ("true", "1"):
        return "diverged"
    chance = CHANCE.get(str(row.get("task")))
    acc = _num(row.get("accuracy"))
    if chance is not None and acc is not None:
        n = _num(row.get("probe_trials")) or DEFAULT_PROBE_TRIALS[str(row.get("task"))]
        if acc <= chance + 3 * math.sqrt(chance * (1 - chance) / n):
            return "accuracy at chance"
    return None


def _value(row: Mapping[str, Any], measure: str, target: float | None) -> float | None:
    v = _num(row.get(measure))
    if v is None or target is None:
        return v
    return abs(math.log(v / target)) if v > 0 else None


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return math.nan if n == 0 else (s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.2e}" if v != 0 and abs(v) < 1e-3 else f"{v:.3g}"
    return str(v)


def _levels(values: Iterable[Any]) -> list[Any]:
    uniq = list(dict.fromkeys(values))
    return sorted(uniq, key=lambda v: (_num(v) is None, _num(v) or 0.0, str(v)))


def select_rows(rows: Sequence[Mapping[str, Any]], claim: Claim) -> list[Mapping[str, Any]]:
    """The rows a claim reads: those of its parts that match its ``where``."""
    return [r for r in rows if str(r.get("part")) in claim.parts and _matches(r, claim.where)]


def evaluate_claim(claim: Claim, rows: Sequence[Mapping[str, Any]], alpha: float = ALPHA) -> dict[str, Any]:
    """The test of one claim on the rows it selects; see the module docstring."""
    from scipy import stats

    sel = select_rows(rows, claim)
    if claim.test == "mannwhitney" and claim.x is not None:
        sel = [r for r in sel if _eq(r.get(claim.x), claim.group) or _eq(r.get(claim.x), claim.reference)]
    out: dict[str, Any] = {"figure": claim.figure, "key": claim.key, "claim": claim.claim, "test": claim.test,
                           "measure": claim.measure, "direction": claim.direction, "parts": ",".join(claim.parts),
                           "n": 0, "n_excluded": 0, "excluded": "", "effect": "", "statistic": math.nan,
                           "pvalue": math.nan, "verdict": "missing", "theory": "", "note": claim.note}
    if not sel:
        return out
    excluded: Counter[str] = Counter()
    kept: list[tuple[Mapping[str, Any], float]] = []
    ref_vals: list[float] = []
    for r in sel:
        why = not_learned(r)
        v = _value(r, claim.measure, claim.target)
        if claim.reference_measure is not None:
            rv = _value(r, claim.reference_measure, claim.target)
            v = None if rv is None else v
        if why is None and v is None:
            why = "measure undefined"
        if why is not None:
            excluded[why] += 1
            continue
        kept.append((r, v))
        if claim.reference_measure is not None:
            ref_vals.append(rv)  # type: ignore[arg-type]
    out["n_excluded"] = sum(excluded.values())
    out["excluded"] = "; ".join(f"{n} {why}" for why, n in sorted(excluded.items()))
    out["n"] = len(kept)
    sign = 0.0
    if claim.test == "spearman":
        xs = [_num(r.get(claim.x)) for r, _ in kept]
        pairs = [(x, v) for x, v in zip(xs, (v for _, v in kept)) if x is not None]
        out["n"] = len(pairs)
        levels = _levels(x for x, _ in pairs)
        out["effect"] = ", ".join(f"{_fmt(lv)}: {_fmt(_median([v for x, v in pairs if x == lv]))}"
                                  for lv in levels) + " (medians)"
        if len(levels) >= 2 and len(pairs) >= 3:
            res = stats.spearmanr([x for x, _ in pairs], [v for _, v in pairs])
            rho, p = float(res.statistic), float(res.pvalue)
            out["statistic"], out["pvalue"] = rho, p
            sign = rho
        if claim.theory:
            out["theory"] = ", ".join(
                f"{_fmt(lv)}: {_fmt(_median([v for r, v in kept if _eq(r.get(claim.x), lv)]))} vs "
                f"{_fmt(_theory_median(claim, kept, lv))}" for lv in levels) + " (measured vs closed form, medians)"
    else:
        if claim.x is None:
            a, b = [v for _, v in kept], ref_vals
            names = (claim.measure, claim.reference_measure)
        else:
            a = [v for r, v in kept if _eq(r.get(claim.x), claim.group)]
            b = [v for r, v in kept if _eq(r.get(claim.x), claim.reference)]
            names = (claim.group, claim.reference)
        out["effect"] = (f"{names[0]} {_fmt(_median(a))} (n={len(a)}) vs {names[1]} {_fmt(_median(b))} "
                         f"(n={len(b)}) (medians)")
        if a and b:
            res = stats.mannwhitneyu(a, b, alternative="two-sided")
            out["statistic"], out["pvalue"] = float(res.statistic), float(res.pvalue)
            sign = float(res.statistic) / (len(a) * len(b)) - 0.5
        if claim.theory and claim.x is not None:
            th = {g: _theory_median(claim, kept, g) for g in (claim.group, claim.reference)}
            out["theory"] = (f"{claim.group} {_fmt(_median(a))} vs {_fmt(th[claim.group])}, {claim.reference} "
                             f"{_fmt(_median(b))} vs {_fmt(th[claim.reference])} (measured vs closed form, medians)")
    out["verdict"] = verdict(out["pvalue"], sign, claim.direction, alpha)
    return out


def _theory_median(claim: Claim, kept: Sequence[tuple[Mapping[str, Any], float]], level: Any) -> float:
    """Median closed-form value over the kept networks whose ``claim.x`` is ``level``."""
    vals = [_num(r.get(claim.theory or "")) for r, _ in kept if _eq(r.get(claim.x or ""), level)]
    return _median([v for v in vals if v is not None])


def verdict(p: float, sign: float, direction: int, alpha: float = ALPHA) -> str:
    """``holds`` / ``opposite`` / ``not significant`` (see the module docstring); ``p`` NaN (no test
    possible: too few networks, or a constant measure) is ``not significant``."""
    significant = p == p and p < alpha
    if direction == 0:
        return "opposite" if significant else "holds"
    if not significant or sign == 0:
        return "not significant"
    return "holds" if (sign > 0) == (direction > 0) else "opposite"


def evaluate(rows: Sequence[Mapping[str, Any]], claims: Sequence[Claim] | None = None,
             alpha: float = ALPHA) -> list[dict[str, Any]]:
    """One result per claim (default: :data:`CLAIMS`)."""
    return [evaluate_claim(c, rows, alpha) for c in (CLAIMS if claims is None else claims)]


# ---- writing ------------------------------------------------------------------------------------
COLUMNS = ("figure", "claim", "test", "effect", "n", "excluded", "statistic", "pvalue", "verdict")


def markdown(results: Sequence[Mapping[str, Any]], missing_parts: Sequence[str] = ()) -> str:
    """The table of claims (and the theory beside the measurements, the parts not yet run)."""
    counts = Counter(r["verdict"] for r in results)
    lines = ["## Claims of the paper", "",
             f"{len(results)} claims: " + ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)
             + f". Verdict at alpha = {ALPHA}: holds / opposite = significant in / against the paper's direction. "
             "Networks that did not learn (diverged, or accuracy within 3 binomial s.e. of chance) are "
             "left out of the test and counted under 'excluded'.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in results:
        cells = []
        for c in COLUMNS:
            v = r.get(c, "")
            if c == "statistic":
                v = "" if v != v else (f"rho={v:+.2f}" if r["test"] == "spearman" else f"U={v:.0f}")
            elif c == "pvalue":
                v = "" if v != v else f"{v:.2g}"
            elif c == "test":
                v = "Spearman" if v == "spearman" else "Mann-Whitney"
            elif c == "excluded":
                v = v or "0"
            cells.append(str(v).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    lines += by_measure(results)
    theory = [r for r in results if r.get("theory")]
    if theory:
        lines += ["", "### Measured beside the closed form (Fig. 3B: Eq. 14 per network; Fig. 4A: Theorem 1, Eq. 18)",
                  "", "| figure | claim | measured vs closed form |", "|---|---|---|"]
        lines += [f"| {r['figure']} | {r['claim']} | {r['theory']} |" for r in theory]
    notes = [r for r in results if r.get("note")]
    if notes:
        lines += ["", "### Notes", ""]
        lines += sorted({f"- {r['figure']}, {r['claim'].split(':')[0]}: {r['note']}" for r in notes})
    if missing_parts:
        lines += ["", "### Parts not run yet (or not complete)", "", ", ".join(missing_parts)]
    return "\n".join(lines) + "\n"


def by_measure(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown lines: the verdicts counted per measure and kind of test (claims with rows only)."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    for r in results:
        if r["verdict"] != "missing":
            kind = "rank trend (Spearman)" if r["test"] == "spearman" else "against a reference (Mann-Whitney)"
            counts.setdefault((r["measure"], kind), Counter())[r["verdict"]] += 1
    if not counts:
        return []
    out = ["", "### Verdicts by measure", "", "| measure | test | " + " | ".join(VERDICTS[:3]) + " |",
           "|---|---|---|---|---|"]
    for (m, kind), c in sorted(counts.items()):
        out.append(f"| {m} | {kind} | " + " | ".join(str(c.get(v, 0)) for v in VERDICTS[:3]) + " |")
    return out


def write_claims(rows: Sequence[Mapping[str, Any]], out: str | Path, missing_parts: Sequence[str] = (),
                 claims: Sequence[Claim] | None = None) -> dict[str, Any]:
    """Write ``claims.md``, ``claims.csv`` and ``claims.json`` to ``out``; returns results and paths."""
    import csv

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = evaluate(rows, claims)
    text = markdown(results, missing_parts)
    (out / "claims.md").write_text(text)
    keys = list(results[0]) if results else []
    with (out / "claims.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(results)
    clean = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in results]
    (out / "claims.json").write_text(json.dumps({"alpha": ALPHA, "missing_parts": list(missing_parts),
                                                 "claims": clean}, indent=1))
    return {"results": results, "text": text,
            "files": {k: out / f"claims.{k}" for k in ("md", "csv", "json")}}


def claims_for_report(results_path: str | Path, out: str | Path) -> str | None:
    """The report's hook: if the results hold rows of any part a claim reads, write the claims
    table to ``out`` and return its Markdown; else None (nothing written)."""
    from rlnet.experiments.network_table import load_rows

    try:
        rows = load_rows(results_path)
    except (ValueError, OSError):
        return None
    parts = {p for c in CLAIMS for p in c.parts}
    seen = {str(r.get("part")) for r in rows}
    if not seen & parts:
        return None
    relevant = [c for c in CLAIMS if set(c.parts) & seen]
    return write_claims(rows, out, claims=relevant)["text"]


def declared_table() -> list[dict[str, Any]]:
    """The declared claims as plain dicts (for docs and tests)."""
    return [asdict(c) for c in CLAIMS]
