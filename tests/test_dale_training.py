"""Dale's law kept during training (Fig. 17): every weight keeps its presynaptic neuron's sign."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from rlnet.connectivity import DaleBalanced, EMConnectivity, Null
from rlnet.data import NeurogymDataModule
from rlnet.models import DaleConstraint, RNNModule
from rlnet.models.dale import infer_presynaptic_signs, project_dale_

torch.set_num_threads(1)


def train(model: RNNModule, steps: int = 25) -> RNNModule:
    dm = NeurogymDataModule(task="2af", batch_size=16, n_probe=16, n_val=16)
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu")
    trainer.fit(model, datamodule=dm)
    return model


def module(dale, n=40, lr=0.3, connectivity=None) -> RNNModule:
    # A large learning rate pushes many weights across zero within a few steps.
    return RNNModule(n_input=3, n_output=3, n_hidden=n, connectivity=connectivity or DaleBalanced(g=1.5),
                     n_members=2, lr=lr, dale=dale)


@pytest.mark.parametrize("readout", ["all", "excitatory"])
def test_every_weight_keeps_its_neurons_sign_after_training(readout):
    m = module(DaleConstraint(readout=readout))
    W0, Wo0 = m.net.W_h.detach().clone(), m.net.W_o.detach().clone()
    train(m)
    W, Wo = m.net.W_h.detach(), m.net.W_o.detach()
    signs = DaleBalanced().presynaptic_signs(40)
    assert not torch.equal(W, W0)  # it did train
    assert torch.all(W * signs >= 0)  # column j carries sign s_j (or 0)
    assert torch.all(W.diagonal(dim1=-2, dim2=-1) == 0)
    if readout == "excitatory":
        assert torch.all(Wo[..., signs < 0] == 0) and torch.all(Wo0[..., signs < 0] == 0)
        assert not torch.equal(Wo[..., signs > 0], Wo0[..., signs > 0])
    else:
        assert torch.all(Wo[..., signs < 0] != 0)


def test_without_the_constraint_signs_flip():
    """The check above is not vacuous: the same training without the constraint breaks Dale's law."""
    m = train(module(None))
    signs = DaleBalanced().presynaptic_signs(40)
    assert (m.net.W_h.detach() * signs < 0).any()


def test_projection_is_the_closest_sign_respecting_matrix():
    W = torch.randn(2, 6, 6)
    s = torch.tensor([1.0, 1, 1, -1, -1, 1])
    P = project_dale_(W.clone(), s)
    expected = torch.where(W * s > 0, W, torch.zeros(()))
    expected.diagonal(dim1=-2, dim2=-1).zero_()
    assert torch.equal(P, expected)
    assert torch.equal(infer_presynaptic_signs(P[0]), torch.where(s > 0, 1.0, -1.0))


def test_signs_from_em_and_refusal_for_mixed_signs():
    m = RNNModule(n_input=3, n_output=3, n_hidden=198, connectivity=EMConnectivity(), dale=DaleConstraint())
    assert torch.equal(m.dale_signs[0], EMConnectivity().presynaptic_signs(198))
    with pytest.raises(ValueError, match="one sign per presynaptic neuron"):
        RNNModule(n_hidden=20, connectivity=Null(), dale=DaleConstraint())
    with pytest.raises(ValueError, match="readout"):
        DaleConstraint(readout="inhibitory")


def test_dale_config_end_to_end_writes_spectrum(tmp_path):
    import json

    from rlnet.cli import main

    config = Path(__file__).resolve().parents[1] / "configs" / "2af_dale_trained.yaml"
    code = main(["fit", "--config", str(config), "--model.init_args.n_hidden=30",
                 "--model.init_args.n_members=2", "--model.init_args.dale.readout=excitatory",
                 "--trainer.max_steps=5", "--trainer.logger=false", "--trainer.enable_progress_bar=false",
                 "--trainer.enable_checkpointing=false", "--trainer.limit_val_batches=0",
                 "--data.init_args.n_probe=32", "--laziness.kernel_trials=4", "--laziness.verbose=false",
                 f"--trainer.default_root_dir={tmp_path}"])
    assert code == 0
    members = json.loads((tmp_path / "metrics.json").read_text())["members"]
    assert len(members) == 2
    for m in members:
        assert m["dale"] == {"readout": "excitatory", "zero_diagonal": True}
        # Independent reference: the member's initial W_h (the balanced Dale draw from its seed, self-
        # connections removed by the constraint), its eigenvalues by NumPy, the relative effective rank
        # sum_i |lambda_i| / (|lambda_1| N) (Fig. 2) written out.
        W0 = DaleBalanced(exc_fraction=0.8, g=1.25)(30, torch.Generator().manual_seed(m["seed"])).double().numpy()
        np.fill_diagonal(W0, 0.0)
        mags = np.sort(np.abs(np.linalg.eigvals(W0)))[::-1]
        rel = mags / mags[0]
        spec = m["initial_spectrum"]
        np.testing.assert_allclose(spec["eigenvalue_magnitudes"], rel, atol=6e-5)  # rounded to 4 digits
        assert spec["eigenvalue_effective_rank"] == pytest.approx(rel.sum() / 30, rel=1e-5)
        assert m["initial_eigenvalue_effective_rank"] == pytest.approx(rel.sum() / 30, rel=1e-5)
