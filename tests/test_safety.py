"""Safety: checkpoints, matrices and configs load without executing what they carry, and no rlnet
source hands a string to a shell, ``eval``, ``pickle`` or an unsafe loader."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, run_cli, tiny_config, write_config

from rlnet.safe_io import load_checkpoint, load_matrix


class _Payload:
    """Unpickling this creates ``marker``: the proof that a loader executed the file's code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / "code_was_executed"
    ckpt = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"net.W_h": torch.zeros(1)}, "payload": _Payload(marker)}, ckpt)
    pt = tmp_path / "evil.pt"
    torch.save(_Payload(marker), pt)
    npy = tmp_path / "evil.npy"
    np.save(npy, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    raw = tmp_path / "evil.txt.pt"
    raw.write_bytes(pickle.dumps(_Payload(marker)))
    marker.unlink(missing_ok=True)  # pickling itself does not call open; be sure
    return {"marker": marker, "ckpt": ckpt, "pt": pt, "npy": npy, "raw": raw}


def test_checkpoint_with_code_is_refused(evil):
    with pytest.raises(ValueError, match="refused"):
        load_checkpoint(evil["ckpt"])
    assert not evil["marker"].exists()


def test_cli_refuses_checkpoint_with_code(tmp_path, capsys, evil):
    base = write_config(tmp_path / "base.yaml", tiny_config())
    rc = run_cli(["fit", "--config", base, "--trainer.default_root_dir", tmp_path / "run", "--ckpt_path", evil["ckpt"]])
    assert rc == 2 and "refused" in capsys.readouterr().err
    assert not evil["marker"].exists() and not (tmp_path / "run").exists()


@pytest.mark.parametrize("key", ["pt", "npy", "raw"])
def test_matrix_with_code_is_refused(evil, key):
    with pytest.raises(ValueError):
        load_matrix(evil[key])
    assert not evil["marker"].exists()


def test_yaml_python_tags_are_not_constructed(tmp_path, capsys):
    marker = tmp_path / "code_was_executed"
    cfg = tmp_path / "evil.yaml"
    cfg.write_text(f'model: !!python/object/apply:builtins.open ["{marker}", "w"]\n')
    base = write_config(tmp_path / "base.yaml", tiny_config())
    rc = run_cli(["fit", "--config", base, "--config", cfg, "--trainer.default_root_dir", tmp_path / "run"])
    assert rc == 2 and "not valid YAML" in capsys.readouterr().err
    assert not marker.exists()


def test_good_files_load(tmp_path):
    w = torch.randn(5, 5)
    torch.save(w, tmp_path / "w.pt")
    np.save(tmp_path / "w.npy", w.numpy())
    np.savez(tmp_path / "w.npz", W=w.numpy())
    np.savetxt(tmp_path / "w.csv", w.numpy(), delimiter=",")
    for name in ("w.pt", "w.npy", "w.npz", "w.csv"):
        assert torch.allclose(load_matrix(tmp_path / name), w, atol=1e-6), name


# ---- static guard over every rlnet source file (also covers modules merged later) ----------------
def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            kw = {k.arg: k.value for k in node.keywords}
            yield node, owner, name, kw


def _is_const(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


SOURCES = sorted((REPO / "rlnet").rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(REPO)) for p in SOURCES])
def test_no_unsafe_loading_or_shell(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    problems = []
    for node, owner, name, kw in _calls(tree):
        where = f"{path.name}:{node.lineno}"
        if owner == "torch" and name == "load" and not _is_const(kw.get("weights_only"), True):
            problems.append(f"{where}: torch.load without weights_only=True")
        if owner in ("np", "numpy") and name == "load" and not _is_const(kw.get("allow_pickle"), False):
            problems.append(f"{where}: numpy.load without allow_pickle=False")
        if owner == "yaml" and name in ("load", "load_all", "unsafe_load", "full_load", "full_load_all"):
            problems.append(f"{where}: yaml.{name} (use yaml.safe_load)")
        if owner in ("pickle", "cPickle", "dill") and name in ("load", "loads"):
            problems.append(f"{where}: {owner}.{name}")
        if name in ("eval", "exec") and isinstance(node.func, ast.Name):  # not module.eval()
            problems.append(f"{where}: {name}()")
        if owner == "os" and name in ("system", "popen"):
            problems.append(f"{where}: os.{name}")
        if _is_const(kw.get("shell"), True):
            problems.append(f"{where}: shell=True")
    assert not problems, problems
