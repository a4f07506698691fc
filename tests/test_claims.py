"""The table of claims: every statistic against SciPy on the same numbers, the exclusion of
networks that did not learn, the verdict rule, and the per-network table it reads."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from rlnet.experiments import claims as C
from rlnet.experiments import network_table as T


def fig1_rows() -> list[dict]:
    """A hand-written Fig. 1 (2AF) table: 4 ranks x 3 seeds that learned, and three that did not
    count (one diverged, one at chance, one with an undefined RA)."""
    rng = np.random.default_rng(0)
    rows = []
    for rank, dw, ka in ((1, 2.0, 0.80), (30, 1.6, 0.85), (100, 1.3, 0.90), (300, 1.1, 0.95)):
        for seed in range(3):
            rows.append({"part": "fig1_2af", "task": "2af", "rank": rank, "seed": seed, "diverged": False,
                         "accuracy": 0.9, "probe_trials": 320,
                         "weight_change_norm": dw + 0.05 * rng.standard_normal(),
                         "representation_alignment": 0.7 + 0.1 * rng.standard_normal(),
                         "kernel_alignment": ka + 0.01 * rng.standard_normal()})
    rows.append({"part": "fig1_2af", "task": "2af", "rank": 300, "seed": 9, "diverged": True, "accuracy": 0.9,
                 "weight_change_norm": 50.0, "representation_alignment": 0.0, "kernel_alignment": 0.0})
    rows.append({"part": "fig1_2af", "task": "2af", "rank": 1, "seed": 8, "diverged": False, "accuracy": 0.55,
                 "probe_trials": 320, "weight_change_norm": 0.1, "representation_alignment": 0.99,
                 "kernel_alignment": 0.99})
    rows.append({"part": "fig1_2af", "task": "2af", "rank": 30, "seed": 7, "diverged": False, "accuracy": 0.9,
                 "probe_trials": 320, "weight_change_norm": 1.6, "representation_alignment": None,
                 "kernel_alignment": 0.85})
    return rows


def by_key(results: list[dict]) -> dict[str, dict]:
    return {r["key"]: r for r in results}


def learned(rows: list[dict]) -> list[dict]:
    return [r for r in rows if not r["diverged"] and r["accuracy"] > 0.6]


def test_spearman_matches_scipy_and_excludes_networks_that_did_not_learn():
    rows = fig1_rows()
    res = by_key(C.evaluate(rows))
    ok = learned(rows)
    for m, key, direction in (("weight_change_norm", "dW", -1), ("kernel_alignment", "KA", +1)):
        r = res[f"fig1.2af.{key}"]
        want = stats.spearmanr([x["rank"] for x in ok], [x[m] for x in ok])
        assert r["statistic"] == pytest.approx(want.statistic, abs=1e-12)
        assert r["pvalue"] == pytest.approx(want.pvalue, rel=1e-9)
        assert r["n"] == len(ok) == 13  # 12 + the network with an undefined RA (its KA is defined)
        assert r["n_excluded"] == 2 and r["excluded"] == "1 accuracy at chance; 1 diverged"
        assert r["verdict"] == "holds" and np.sign(r["statistic"]) == direction
        # medians side by side, per rank
        med1 = float(np.median([x[m] for x in ok if x["rank"] == 1]))
        assert r["effect"].startswith(f"1: {med1:.3g}")
    ra = res["fig1.2af.RA"]
    ok_ra = [x for x in ok if x["representation_alignment"] is not None]
    want = stats.spearmanr([x["rank"] for x in ok_ra], [x["representation_alignment"] for x in ok_ra])
    assert ra["n"] == 12 and ra["excluded"] == "1 accuracy at chance; 1 diverged; 1 measure undefined"
    assert ra["statistic"] == pytest.approx(want.statistic, abs=1e-12)
    assert ra["pvalue"] == pytest.approx(want.pvalue, rel=1e-9)


def test_chance_rule_is_three_binomial_standard_errors():
    row = {"task": "2af", "diverged": False, "probe_trials": 320}
    edge = 0.5 + 3 * math.sqrt(0.25 / 320)
    assert C.not_learned({**row, "accuracy": edge - 1e-9}) == "accuracy at chance"
    assert C.not_learned({**row, "accuracy": edge + 1e-9}) is None
    assert C.not_learned({"task": "mnist", "accuracy": 0.17, "probe_trials": 200}) is None  # edge 0.164
    assert C.not_learned({"task": "mnist", "accuracy": 0.16, "probe_trials": 200}) == "accuracy at chance"
    assert C.not_learned({"task": "studentteacher", "diverged": "True"}) == "diverged"
    assert C.not_learned({"task": "pattern", "diverged": False}) is None  # regression: no accuracy


def structure_rows() -> list[dict]:
    rows = []
    null_ka = [0.95, 0.96, 0.97, 0.94, 0.95, 0.96]
    under_ka = [0.90, 0.91, 0.89, 0.92, 0.88, 0.93]
    null_dw = [1.0, 1.1, 1.2, 0.9, 1.0, 1.05]
    under_dw = [0.8, 0.7, 0.9, 0.75, 0.85, 0.8]  # the paper says higher: opposite
    null_er = [0.64, 0.63, 0.65, 0.62, 0.66, 0.64]
    under_er = [0.64, 0.62, 0.66, 0.63, 0.65, 0.65]  # about the same: not significant
    for s in range(6):
        rows.append({"part": "fig2_2af_chain", "task": "2af", "variant": "null", "seed": s, "diverged": False,
                     "accuracy": 0.9, "kernel_alignment": null_ka[s], "weight_change_norm": null_dw[s],
                     "initial_eigenvalue_effective_rank": null_er[s], "representation_alignment": 0.5})
        rows.append({"part": "fig2_2af_chain", "task": "2af", "variant": "chain_under", "seed": s,
                     "diverged": False, "accuracy": 0.9, "kernel_alignment": under_ka[s],
                     "weight_change_norm": under_dw[s], "initial_eigenvalue_effective_rank": under_er[s],
                     "representation_alignment": 0.5})
    rows.append({"part": "fig2_2af_chain", "task": "2af", "variant": "chain_over", "seed": 0, "diverged": False,
                 "accuracy": 0.9, "kernel_alignment": 0.1})  # another group: never in the under/null test
    return rows, (null_ka, under_ka, null_dw, under_dw, null_er, under_er)


def test_mann_whitney_matches_scipy_and_the_verdict_rule():
    rows, (null_ka, under_ka, null_dw, under_dw, null_er, under_er) = structure_rows()
    res = by_key(C.evaluate(rows))
    for key, a, b, verdict in (("KA", under_ka, null_ka, "holds"), ("dW", under_dw, null_dw, "opposite"),
                               ("eig", under_er, null_er, "not significant")):
        r = res[f"fig2.2af.chain_under.{key}"]
        want = stats.mannwhitneyu(a, b, alternative="two-sided")
        assert r["statistic"] == pytest.approx(want.statistic)
        assert r["pvalue"] == pytest.approx(want.pvalue, rel=1e-9)
        assert r["n"] == 12 and r["n_excluded"] == 0
        assert r["effect"] == (f"chain_under {np.median(a):.3g} (n=6) vs null {np.median(b):.3g} (n=6) (medians)")
        assert r["verdict"] == verdict, (key, r)
    # RA constant in both groups: SciPy's p is 1, not significant
    assert res["fig2.2af.chain_under.RA"]["verdict"] == "not significant"
    # no rows yet for DMS: missing
    assert res["fig5.dms.chain_under.KA"]["verdict"] == "missing" and res["fig5.dms.chain_under.KA"]["n"] == 0


def test_verdict_rule():
    assert C.verdict(0.01, +0.3, +1) == "holds"
    assert C.verdict(0.01, -0.3, +1) == "opposite"
    assert C.verdict(0.01, -0.3, -1) == "holds"
    assert C.verdict(0.05, +0.3, +1) == "not significant"  # p < alpha is required
    assert C.verdict(float("nan"), 0.0, +1) == "not significant"
    assert C.verdict(0.2, 0.1, 0) == "holds"  # a claim of no difference
    assert C.verdict(0.01, 0.1, 0) == "opposite"


def test_theory_beside_measured_and_before_after_test():
    rows = []
    for rank, ka, th in ((1, 0.70, 0.72), (2, 0.90, 0.91)):
        for s in range(4):
            rows.append({"part": "fig4a_linear", "task": "studentteacher", "d": 2, "rank": rank, "seed": s,
                         "diverged": False, "kernel_alignment": ka + 0.01 * s, "eq18_expected_alignment": th})
    r = by_key(C.evaluate(rows))["fig4a.d2"]
    want = stats.spearmanr([x["rank"] for x in rows], [x["kernel_alignment"] for x in rows])
    assert r["statistic"] == pytest.approx(want.statistic) and r["pvalue"] == pytest.approx(want.pvalue)
    m1 = np.median([0.70, 0.71, 0.72, 0.73])
    assert r["theory"].startswith(f"1: {m1:.3g} vs 0.72, 2: ") and r["verdict"] == "holds"
    # Fig. 15: |log(r / 10)| at the end against at the start, the same networks
    init, final = [3.0, 2.5, 2.0, 4.0, 3.5], [8.0, 9.0, 12.0, 7.5, 11.0]
    rows = [{"part": "fig14_15_smnist", "task": "mnist", "rank": 5, "diverged": False, "accuracy": 0.97,
             "probe_trials": 200, "track_kernel_effective_rank_initial": i, "track_kernel_effective_rank_final": f}
            for i, f in zip(init, final)]
    r = by_key(C.evaluate(rows))["fig15.sMNIST"]
    want = stats.mannwhitneyu([abs(math.log(f / 10)) for f in final], [abs(math.log(i / 10)) for i in init],
                              alternative="two-sided")
    assert r["pvalue"] == pytest.approx(want.pvalue) and r["verdict"] == "holds"


def test_declared_table_covers_the_issue():
    figs = {c.figure for c in C.CLAIMS}
    need = {"Fig. 1", "Fig. 2", "Fig. 3B", "Fig. 3C", "Fig. 4A", "Fig. 4B", "Fig. 5", "Fig. 6", "Fig. 7",
            "Fig. 8", "Fig. 9", "Fig. 10", "Fig. 11", "Fig. 12", "Fig. 13", "Fig. 14", "Fig. 15", "Fig. 16",
            "Fig. 17", "Fig. 18", "Fig. 19"}
    assert need <= figs
    assert {c.parts[0] for c in C.CLAIMS if c.figure == "Fig. 1"} == {"fig1_2af", "fig1_dms", "fig1_cxt",
                                                                     "fig1_smnist"}
    assert len({c.key for c in C.CLAIMS}) == len(C.CLAIMS)
    assert all(c.test in ("spearman", "mannwhitney") and c.direction in (-1, 0, 1) for c in C.CLAIMS)


def test_network_rows_and_csv_round_trip(tmp_path):
    metrics = {
        "config": {"model": {"init_args": {"n_hidden": 100, "lr": 0.003}},
                   "data": {"init_args": {"task": "2af"}}},
        "steps": 10, "measure_settings": {"probe_trials": 320},
        "members": [{"seed": 0, "connectivity": {"name": "svd", "rank": None, "g": 1.25}, "diverged": False,
                     "accuracy": 0.9, "kernel_alignment": 0.9, "initial_spectrum": {"x": [1, 2]}},
                    {"seed": 1, "connectivity": {"name": "chain_motifs", "tau_chn": -0.1}, "diverged": True,
                     "accuracy": None, "kernel_alignment": float("nan")}],
        "tracking": {"steps": [0, 5, 10], "members": [{"kernel_alignment": [1.0, 0.9, 0.8]},
                                                      {"kernel_alignment": [1.0, 0.7, 0.5]}]},
    }
    rows = T.network_rows(metrics, "fig2_2af_chain", "run0",
                          {"config": "configs/2af_chain_under.yaml", "model.init_args.seeds": [0, 1]})
    assert rows[0]["rank"] == 100 and rows[0]["variant"] == "chain_under" and rows[0]["task"] == "2af"
    assert rows[0]["track_kernel_alignment_final"] == 0.8 and rows[1]["track_kernel_alignment_initial"] == 1.0
    assert rows[1]["structure"] == "chain_motifs" and rows[1]["tau_chn"] == -0.1 and rows[1]["diverged"]
    assert "initial_spectrum" not in rows[0] and "seeds" not in rows[0]
    back = T.rows_from_csv(T.write_csv(rows, tmp_path / "t.csv"))
    assert back[0]["rank"] == 100 and back[0]["lr"] == 0.003 and back[1]["diverged"] is True
    assert back[1]["kernel_alignment"] is None and back[0]["probe_trials"] == 320


def test_write_claims_and_report_hook(tmp_path):
    rows = fig1_rows()
    T.write_csv(rows, tmp_path / "tables" / "fig1_2af.csv")
    text = C.claims_for_report(tmp_path / "tables", tmp_path / "rep")
    assert text is not None and r"2AF: higher rank -> smaller \|\|ΔW\|\|" in text  # | escaped in Markdown
    assert (tmp_path / "rep" / "claims.csv").exists() and (tmp_path / "rep" / "claims.json").exists()
    assert "Fig. 5" not in text  # only the claims of parts present
    # rows of no declared part: nothing written
    T.write_csv([{**rows[0], "part": "my_sweep"}], tmp_path / "other" / "x.csv")
    assert C.claims_for_report(tmp_path / "other", tmp_path / "rep2") is None
    assert not (tmp_path / "rep2").exists()


def test_fig19_shuffled_em_is_compared_with_the_em_of_the_same_part_and_must_be_lazier():
    """Fig. 19 also claims the shuffle *removes* the EM's effect: shuffled against EM, Mann-Whitney on
    those two groups only (the null rows of the part are not read), direction: lazier than the EM."""
    rng = np.random.default_rng(1)
    rows = []
    for variant, ka in (("null", 0.50), ("em", 0.14), ("em_shuffled", 0.49)):
        for seed in range(6):
            rows.append({"part": "fig19_em_shuffled", "task": "2af", "variant": variant, "seed": seed,
                         "diverged": False, "accuracy": 0.9, "probe_trials": 320,
                         "kernel_alignment": ka + 0.02 * rng.standard_normal()})
    res = by_key(C.evaluate(rows))
    r = res["fig19.2af.em_shuffled.vs_em.KA"]
    a = [x["kernel_alignment"] for x in rows if x["variant"] == "em_shuffled"]
    b = [x["kernel_alignment"] for x in rows if x["variant"] == "em"]
    want = stats.mannwhitneyu(a, b, alternative="two-sided")
    assert r["statistic"] == want.statistic and r["pvalue"] == pytest.approx(want.pvalue, rel=1e-12)
    assert r["n"] == 12 and r["verdict"] == "holds"  # higher KA than the EM: the paper's direction
    assert res["fig19.2af.em_shuffled.KA"]["verdict"] == "holds"  # and no different from the null
    swapped = [{**x, "kernel_alignment": -x["kernel_alignment"]} for x in rows]
    assert by_key(C.evaluate(swapped))["fig19.2af.em_shuffled.vs_em.KA"]["verdict"] == "opposite"


def test_verdicts_counted_by_measure_match_the_rows():
    res = C.evaluate(fig1_rows())
    text = C.markdown(res)
    present = [r for r in res if r["verdict"] != "missing"]
    for m in ("weight_change_norm", "representation_alignment", "kernel_alignment"):
        mine = [r for r in present if r["measure"] == m]
        want = [sum(r["verdict"] == v for r in mine) for v in ("holds", "opposite", "not significant")]
        line = f"| {m} | rank trend (Spearman) | " + " | ".join(map(str, want)) + " |"
        assert line in text.split("### Verdicts by measure")[1]
