"""The command line in-process: every shipped config runs, metrics.json holds the right numbers,
and bad input ends with one clear line, exit status 2 and no metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import assert_member_measures_valid

from rlnet.cli import build_cli, main
from rlnet.measures.ntk import naive_tangent_kernel
from rlnet.nets.rnn import rnn_forward

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
FAST = ["--trainer.max_steps", "3", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
        "--trainer.enable_checkpointing", "false", "--trainer.val_check_interval", "2",
        "--laziness.kernel_trials", "4", "--laziness.verbose", "false"]


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_shipped_config_runs(config, tmp_path):
    assert main(["fit", "--config", str(config), *FAST, "--trainer.default_root_dir", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 3 and metrics["members"]
    for m in metrics["members"]:
        assert_member_measures_valid(m, ("weight_change_norm", "representation_alignment", "kernel_alignment",
                                         "sign_similarity", "final_loss"))
        assert m["weight_change_norm"] > 0  # three steps moved the measured weights


@pytest.mark.parametrize("key, value", [("kernel_alignment", float("nan")), ("representation_alignment", 1.5),
                                        ("weight_change_norm", -0.1), ("accuracy", float("inf")),
                                        ("final_loss", None)])
def test_the_range_check_rejects_bad_values(key, value):
    """The check above is not vacuous: a NaN, an out-of-range or a missing measure fails it."""
    good = {"seed": 0, "weight_change_norm": 0.5, "representation_alignment": 0.9, "kernel_alignment": 0.4,
            "sign_similarity": 0.8, "final_loss": 0.3, "accuracy": 0.7, "diverged": False}
    assert_member_measures_valid(good)
    with pytest.raises(AssertionError, match=key):
        assert_member_measures_valid({**good, key: value})


def test_metrics_json_against_independent_computation(tmp_path):
    """Re-derive the three measures from the initial and final weights with naive loops in float64."""
    args = ["fit", "--config", str(ROOT / "configs/2af_lowrank.yaml"), "--trainer.max_steps", "20",
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--trainer.enable_checkpointing",
            "false", "--trainer.val_check_interval", "10", "--model.init_args.n_hidden", "40",
            "--model.init_args.n_members", "2", "--model.init_args.lr", "0.05", "--data.init_args.n_probe", "24",
            "--laziness.kernel_trials", "6", "--laziness.verbose", "false",
            "--trainer.default_root_dir", str(tmp_path)]
    cli = build_cli(args)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    model, dm = cli.model, cli.datamodule
    hp = {k: v for k, v in model.hparams.items() if not k.startswith("_")}
    fresh = type(model)(**hp, connectivity=model.connectivity)
    x, _y = dm.probe_batch()
    x = x.double()
    for e, m in enumerate(metrics["members"]):
        W0 = [p[e].detach().double() for p in (fresh.net.W_h, fresh.net.W_x, fresh.net.W_o)]
        Wf = [p[e].detach().double() for p in (model.net.W_h, model.net.W_x, model.net.W_o)]
        assert m["seed"] == model.seeds[e]
        assert m["weight_change_norm"] == pytest.approx((Wf[0] - W0[0]).norm().item(), rel=1e-5)

        def rates(W):
            return rnn_forward(W[0][None], W[1][None], W[2][None], x, leak=0.0, gain=1.0)[1][0]

        H0, Hf = rates(W0)[-1], rates(Wf)[-1]
        R0, Rf = H0 @ H0.T, Hf @ Hf.T
        ra = (R0 * Rf).sum() / (R0.norm() * Rf.norm())
        assert m["representation_alignment"] == pytest.approx(ra.item(), rel=1e-5)

        def kernel(W):
            Wh = W[0].clone().requires_grad_()

            def outs():
                yk = rnn_forward(Wh[None], W[1][None], W[2][None], x[:, :6], leak=0.0, gain=1.0)[0][0]
                return yk.transpose(0, 1).reshape(-1)

            return naive_tangent_kernel(outs, [Wh])

        K0, Kf = kernel(W0), kernel(Wf)
        ka = (K0 * Kf).sum() / (K0.norm() * Kf.norm())
        assert m["kernel_alignment"] == pytest.approx(ka.item(), rel=1e-4)
        same = (torch.sign(rates(W0)) == torch.sign(rates(Wf))).double().mean()
        assert m["sign_similarity"] == pytest.approx(same.item(), abs=1e-6)
        assert m["connectivity"]["rank"] == 1


BAD = [
    (["--data.init_args.task", "nope"], "data.task"),
    (["--model.init_args.connectivity.init_args.rank", "301"], "rank"),
    (["--model.init_args.lr", "-0.1"], "model.lr"),
    (["--model.init_args.lr", "fast"], "model.lr"),
    (["--model.init_args.n_hiden", "10"], "n_hiden"),
]


@pytest.mark.parametrize("extra, field", BAD, ids=[b[1] for b in BAD])
def test_bad_input_one_line_nonzero_no_metrics(extra, field, tmp_path, capsys):
    code = main(["fit", "--config", str(ROOT / "configs/2af_lowrank.yaml"), *FAST, *extra,
                 "--trainer.default_root_dir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("rlnet: error:") and field in err[-1]
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_missing_config_file(tmp_path, capsys):
    code = main(["fit", "--config", str(tmp_path / "missing.yaml"), "--trainer.default_root_dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "missing.yaml" in err[-1] and err[-1].startswith("rlnet: error:")
    assert not (tmp_path / "metrics.json").exists()
