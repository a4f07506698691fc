"""The structure-vs-null comparison runs end to end and computes SciPy's Mann-Whitney p-values."""

from __future__ import annotations

import json

import pytest
import torch
from scipy.stats import mannwhitneyu

from rlnet.compare_structures import main, usable

torch.set_num_threads(1)


def test_usable_drops_undefined_and_diverged():
    members = [{"diverged": False, "x": 1.0}, {"diverged": False, "x": None}, {"diverged": True, "x": 2.0},
               {"diverged": False, "x": float("nan")}]
    assert usable(members, "x") == [1.0]


@pytest.mark.slow  # two short fits: about 12-25 s on the shared machine
def test_compare_chain_under_against_null(tmp_path, capsys):
    assert main(["--steps", "3", "--members", "3", "--structures", "[chain_under]", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "comparison.json").read_text())["rows"]
    (row,) = rows
    assert row["n"] == 100
    ka = row["KA"]
    assert len(ka["structure"]) == len(ka["null"]) == 3
    assert ka["p"] == mannwhitneyu(ka["structure"], ka["null"], alternative="two-sided").pvalue
    # Effective rank: chain under is below the null for every seed, the most extreme ranking.
    er = row["eff. rank"]
    assert max(er["structure"]) < min(er["null"]) and er["p"] == 0.1
    assert "| chain_under (100) |" in capsys.readouterr().out
    assert main(["--structures", "[nope]", "--out", str(tmp_path)]) == 2
