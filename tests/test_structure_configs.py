"""Every shipped structure config (configs/{task}_{structure}.yaml) builds its model and data, and its
initial W_h is the structure built directly from its class with the arguments the paper names (below,
written out here, not read from the config): two configs swapped (em / em_shuffled, chain_over /
chain_under, celltype / celltype_b, ...) fail."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rlnet.cli import build_cli
from rlnet.connectivity import CellType, ChainMotifs, DaleBalanced, EMConnectivity, Null, SoftRank, SVDRank

torch.set_num_threads(1)
# structure -> (N, the structure as the paper describes it); g = 1.25 throughout (the authors' code).
EXPECTED = {
    "null": (300, lambda: Null(g=1.25)),
    "celltype": (300, lambda: CellType(alpha=0.02, gamma=10.0, gain_rest=0.8, reading="A", g=1.25)),
    "celltype_b": (300, lambda: CellType(alpha=0.02, gamma=10.0, gain_rest=0.8, reading="B", g=1.25)),
    "chain_over": (100, lambda: ChainMotifs(tau_chn=0.03, tau_convention="dahmen", g=1.25)),
    "chain_under": (100, lambda: ChainMotifs(tau_chn=-0.1, tau_convention="dahmen", g=1.25)),
    "dale": (300, lambda: DaleBalanced(exc_fraction=0.8, g=1.25)),
    "dale_trained": (300, lambda: DaleBalanced(exc_fraction=0.8, g=1.25)),
    "em": (198, lambda: EMConnectivity(shuffle="none", g=1.25)),
    "em_shuffled": (198, lambda: EMConnectivity(shuffle="mask", g=1.25)),
    "em_shuffled_all": (198, lambda: EMConnectivity(shuffle="all", g=1.25)),
    "softrank": (300, lambda: SoftRank(k=3.0, g=1.25)),
    "lowrank_eignorm": (300, lambda: SVDRank(rank=1, normalize="eigenvalue", g=1.25)),
}
STRUCTURES = list(EXPECTED)
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = [CONFIG_DIR / f"{t}_{s}.yaml" for t in ("2af", "dms", "cxt") for s in STRUCTURES]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_builds_the_named_structure(path, tmp_path):
    cli = build_cli(["--config", str(path), "--trainer.logger=false", f"--trainer.default_root_dir={tmp_path}",
                     "--model.init_args.n_members=2"], run=False)
    model = cli.model
    task, structure = path.stem.split("_", 1)
    n, make = EXPECTED[structure]
    assert cli.datamodule.task == task
    assert (model.dale is not None) == (structure == "dale_trained")
    W = model.net.W_h.detach()
    assert W.shape == (2, n, n) and torch.isfinite(W).all()
    for e, seed in enumerate(model.seeds):
        expected = make()(n, torch.Generator().manual_seed(seed)).to(W)
        if structure == "dale_trained":  # the trained-Dale constraint also removes self-connections
            assert torch.all(W[e].diagonal() == 0)
            expected.fill_diagonal_(0)
        assert torch.equal(W[e], expected), f"{path.name}: member {e} is not {make()!r}"


def test_swapped_structures_differ():
    """The comparison above separates the pairs that could be swapped unnoticed."""
    for a, b in (("em", "em_shuffled"), ("em_shuffled", "em_shuffled_all"), ("chain_over", "chain_under"),
                 ("celltype", "celltype_b"), ("null", "softrank")):
        n = EXPECTED[a][0]
        Wa, Wb = (EXPECTED[s][1]()(n, torch.Generator().manual_seed(0)) for s in (a, b))
        assert not torch.allclose(Wa, Wb), (a, b)
