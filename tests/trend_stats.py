"""Statistics for the trend tests: a claim about a group of trained networks is a one-sided
Mann-Whitney U test (SciPy) at ``ALPHA``, over the networks that learned.

``ALPHA`` is fixed for every trend test before any of them ran, not tuned per test. Networks that
diverged, never reached the accuracy target, or have an undefined measure are left out and
counted; a test bounds how many may be.
"""

from __future__ import annotations

import math
import statistics

from scipy.stats import mannwhitneyu

ALPHA = 0.01


def split(members: list[dict], keys: tuple[str, ...], need_target: bool = True) -> tuple[list[dict], int]:
    """``(kept, n_left_out)``: members that did not diverge, reached the accuracy target (when
    ``need_target``; StopAtAccuracy's ``reached_target``), and have every ``key`` finite."""
    def ok(m: dict) -> bool:
        if m.get("diverged") or (need_target and not m.get("reached_target")):
            return False
        return all(m.get(k) is not None and math.isfinite(m[k]) for k in keys)

    kept = [m for m in members if ok(m)]
    return kept, len(members) - len(kept)


def p_less(a: list[float], b: list[float]) -> float:
    """One-sided Mann-Whitney p-value for "values in ``a`` tend to be smaller than in ``b``"."""
    return float(mannwhitneyu(a, b, alternative="less").pvalue)


def describe(name: str, a: list[float], b: list[float]) -> str:
    return (f"{name}: median {statistics.median(a):.3f} (n={len(a)}) vs {statistics.median(b):.3f} (n={len(b)}), "
            f"p(less)={p_less(a, b):.2g}, p(greater)={p_less(b, a):.2g}")


def p_paired_less(a: list[float], b: list[float]) -> float:
    """One-sided Wilcoxon signed-rank p-value for "``a[i]`` tends to be smaller than ``b[i]``" (pairs:
    the same network and data with one setting changed)."""
    from scipy.stats import wilcoxon

    return float(wilcoxon(a, b, alternative="less").pvalue)
