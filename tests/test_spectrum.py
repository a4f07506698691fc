"""Spectra of connectivity matrices (Fig. 2, 16 left panels) and their effective ranks."""

from __future__ import annotations

import json

import torch

from rlnet.connectivity import CellType, Null
from rlnet.measures.effective_rank import eigenvalue_effective_rank, singular_value_effective_rank
from rlnet.measures.spectrum import eigenvalue_magnitudes, singular_values, spectrum_summary

torch.set_num_threads(1)


def test_effective_rank_is_the_area_under_the_spectrum():
    W = CellType(g=1.5)(120, torch.Generator().manual_seed(0))
    mags, s = eigenvalue_magnitudes(W), singular_values(W)
    assert mags[0] == 1 and torch.all(mags[:-1] >= mags[1:])
    assert torch.isclose(mags.mean(), eigenvalue_effective_rank(W).double(), rtol=1e-6)
    assert torch.isclose(s.mean(), singular_value_effective_rank(W).double(), rtol=1e-6)


def test_known_spectra():
    d = torch.tensor([3.0, -2.0, 1.0, 0.5])
    assert torch.allclose(eigenvalue_magnitudes(torch.diag(d)), torch.tensor([1, 2 / 3, 1 / 3, 1 / 6]).double())
    Q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64))
    assert torch.allclose(singular_values(Q @ torch.diag(d.double()), relative=False), d.abs().double())


def test_summary_is_small_and_json_ready():
    W = Null(g=1.5)(50, torch.Generator().manual_seed(1))
    s = spectrum_summary(W)
    json.dumps(s)
    assert len(s["eigenvalue_magnitudes"]) == 50 and s["eigenvalue_magnitudes"][0] == 1.0
    assert abs(s["spectral_radius"] - float(torch.linalg.eigvals(W.double()).abs().max())) < 1e-9


def test_spectra_command_writes_the_figure(tmp_path, capsys):
    from rlnet.cli import main

    assert main(["spectra", "--out", str(tmp_path), "--n_seeds", "1"]) == 0
    for name in ("spectra_eigenvalues.png", "spectra_singular_values.png", "spectra.json"):
        assert (tmp_path / name).stat().st_size > 0
    panels = json.loads((tmp_path / "spectra.json").read_text())["panels"]
    assert [p["title"][0] for p in panels[:4]] == ["A", "B", "C", "D"]
    for p in panels[:4]:  # Fig. 2: the (unshuffled) biological structures sit below the null
        null, *rest = p["curves"]
        for c in rest:
            if "shuffled" not in c["label"]:
                assert c["eigenvalue_effective_rank"][0] < null["eigenvalue_effective_rank"][0], c["label"]
    assert "spectra written to" in capsys.readouterr().out
    assert main(["spectra", "--out", str(tmp_path), "--n_seeds", "0"]) == 2
