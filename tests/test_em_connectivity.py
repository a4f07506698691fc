"""EM connectivity: the user's file, its validation, the synthetic stand-in, the shuffles (Fig. 2B, 19)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from rlnet.cli import main
from rlnet.connectivity import EMConnectivity, Null, synthetic_em_standin
from rlnet.connectivity.em import shuffle_offdiagonal, shuffle_within_mask
from rlnet.connectivity.em_standin import STANDIN_BLOCKS, STANDIN_SIGMA_LN
from rlnet.measures.effective_rank import eigenvalue_effective_rank

torch.set_num_threads(1)


def small_em(n: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A signed C[pre, post]: the first 3/4 excitatory rows positive, the rest negative."""
    rng = np.random.default_rng(seed)
    C = rng.random((n, n)) * (rng.random((n, n)) < 0.5)
    np.fill_diagonal(C, 0)
    exc = np.arange(n) < 3 * n // 4
    C[~exc] *= -1
    return C, exc


@pytest.mark.parametrize("fmt", ["npy", "npz", "csv"])
def test_file_round_trip_gives_the_transpose(tmp_path, fmt):
    C, exc = small_em()
    p = tmp_path / f"em.{fmt}"
    if fmt == "npy":
        np.save(p, C)
    elif fmt == "npz":
        np.savez(p, C=C, excitatory=exc)
    else:
        np.savetxt(p, C, delimiter=",")
    c = EMConnectivity(path=str(p), match_norm=False)
    W = c(12, torch.Generator().manual_seed(0))
    assert torch.allclose(W.double(), torch.as_tensor(C).T, atol=1e-6)  # W[post, pre] = C^T
    assert torch.equal(c.presynaptic_signs(12), torch.where(torch.as_tensor(exc), 1.0, -1.0))
    # Default: rescaled to the null draw's Frobenius norm.
    Wn = EMConnectivity(path=str(p))(12, torch.Generator().manual_seed(0))
    assert torch.allclose(Wn.norm(), Null()(12, torch.Generator().manual_seed(0)).norm(), rtol=1e-5)


def write(tmp_path, name, C, **extra):
    p = tmp_path / name
    if name.endswith(".npz"):
        np.savez(p, **({"C": C} if C.size else {}), **extra)
    else:
        np.save(p, C)
    return str(p)


def test_bad_files_raise_value_errors_naming_the_problem(tmp_path):
    C, exc = small_em()
    bad_exc = C.copy()
    bad_exc[0, 5] = -0.3  # an excitatory row with a negative entry
    nan = C.copy()
    nan[2, 3] = np.nan
    inf = C.copy()
    inf[4, 1] = np.inf
    cases = {
        write(tmp_path, "rect.npy", C[:, :10]): "square",
        write(tmp_path, "cube.npy", np.zeros((3, 3, 3))): "2-D",
        write(tmp_path, "nan.npy", nan): "NaN or inf .first at .2, 3",
        write(tmp_path, "inf.npy", inf): "NaN or inf .first at .4, 1",
        write(tmp_path, "exc.npz", bad_exc, excitatory=exc): "excitatory row 0 has a negative entry",
        write(tmp_path, "mixed.npy", bad_exc): "row 0 has both positive and negative",
        write(tmp_path, "zero.npy", np.zeros((5, 5))): "all zero",
        write(tmp_path, "two.npz", C[:0], A=C, B=C): "array named 'C'",
        str(tmp_path / "missing.npy"): "does not exist",
    }
    (tmp_path / "m.txt").write_text("1,2\n3,4\n")
    cases[str(tmp_path / "m.txt")] = "unsupported extension"
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    cases[str(tmp_path / "t.csv")] = "cannot read"
    for path, msg in cases.items():
        with pytest.raises(ValueError, match=msg):
            EMConnectivity(path=path)


def test_size_mismatch_names_n_hidden(tmp_path):
    C, _ = small_em()
    with pytest.raises(ValueError, match=r"n_hidden=20 .* 12 cells"):
        EMConnectivity(path=write(tmp_path, "ok.npy", C))(20)


def test_cli_refuses_bad_file_before_training(tmp_path, capsys):
    C, _ = small_em()
    C[0, 1], C[0, 2] = 1.0, -1.0
    path = write(tmp_path, "bad.npy", C)
    run = tmp_path / "run"
    code = main(["fit", "--model=rlnet.models.RNNModule", "--data=rlnet.data.NeurogymDataModule",
                 "--model.init_args.n_hidden=12", "--model.init_args.connectivity=rlnet.connectivity.EMConnectivity",
                 f"--model.init_args.connectivity.init_args.path={path}", "--trainer.max_steps=2",
                 "--trainer.logger=false", f"--trainer.default_root_dir={run}"])
    err = capsys.readouterr().err
    assert code == 2
    assert "rlnet: error:" in err and "both positive and negative" in err
    assert not (run / "metrics.json").exists()


def test_standin_statistics():
    n = 198
    C, exc = synthetic_em_standin()
    assert C.shape == (n, n) and int(exc.sum()) == round(0.8 * n)
    assert torch.all(C.diagonal() == 0)
    assert torch.all(C[exc] >= 0) and torch.all(C[~exc] <= 0)  # sign by presynaptic type
    typ = (~exc).long()
    off = ~torch.eye(n, dtype=torch.bool)
    for (pre, post), (p, m) in STANDIN_BLOCKS.items():
        sel = (typ[:, None] == pre) & (typ[None, :] == post) & off
        k = int(sel.sum())
        frac = float((C[sel] != 0).double().mean())
        assert abs(frac - p) <= 4 * (p * (1 - p) / k) ** 0.5, (pre, post, frac, p)
        # Summed volume per connection: E[1 + Poisson(m - 1)] E[lognormal] = m exp(sigma_ln^2 / 2).
        vol = C[sel][C[sel] != 0].abs()
        target = m * math.exp(STANDIN_SIGMA_LN**2 / 2)
        assert abs(float(vol.mean()) - target) <= 4 * float(vol.std()) / len(vol) ** 0.5, (pre, post)
    assert torch.equal(synthetic_em_standin()[0], C)  # a fixed matrix, like the data it stands for


def test_shuffles_keep_what_they_promise():
    W = EMConnectivity(match_norm=False)(198, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    Wm = shuffle_within_mask(W, g)
    assert torch.equal(Wm != 0, W != 0)  # the non-zero mask is kept
    assert torch.equal(Wm[W != 0].sort().values, W[W != 0].sort().values)
    assert not torch.equal(Wm, W)
    Wa = shuffle_offdiagonal(W, g)
    off = ~torch.eye(198, dtype=torch.bool)
    assert torch.equal(Wa[off].sort().values, W[off].sort().values) and torch.equal(Wa.diagonal(), W.diagonal())
    assert not torch.equal(Wa != 0, W != 0)


def test_shuffles_remove_the_low_rank():
    """Fig. 19: both shuffles raise the effective rank well above the EM matrix's."""
    gens = [torch.Generator().manual_seed(s) for s in range(3)]
    em = [float(eigenvalue_effective_rank(EMConnectivity()(198, g))) for g in gens]
    for shuffle in ("mask", "all"):
        sh = [float(eigenvalue_effective_rank(EMConnectivity(shuffle=shuffle)(198, torch.Generator().manual_seed(s))))
              for s in range(3)]
        assert min(sh) > max(em)
    assert EMConnectivity(shuffle="mask").presynaptic_signs(198) is None


def test_metrics_json_records_the_source(tmp_path):
    params = EMConnectivity().params()
    assert params["source"].startswith("synthetic stand-in") and params["path"] is None
    json.dumps(params)
