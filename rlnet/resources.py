"""The configs, sweeps and callback presets that ship with rlnet, found as package resources.

The repository keeps them at its top level (``configs/``, ``sweeps/``, ``callbacks/``: the user's
design card). The package ``rlnet._resources`` holds the same three folders (in the repository as
links to the top-level ones; a wheel carries copies through setuptools' package data), so
``importlib.resources`` finds them in an editable install, in a source checkout on ``PYTHONPATH``
and in an installed wheel alike.

A name given on the command line resolves as follows (:func:`resolve`):

1. an existing file is used as it is (``--config configs/dms_lowrank.yaml`` in the repository);
2. ``rlnet://KIND/PATH`` names a packaged file exactly (``rlnet://configs/dms_lowrank.yaml``);
3. a relative path that does not exist here is looked up among the packaged files
   (``configs/dms_lowrank.yaml`` from any directory: the sweeps' own commands rely on it);
4. a bare name is looked up in ``KINDS`` with ``.yaml`` added (``dms_lowrank``, ``fig1/2af``,
   ``laziness`` for ``callbacks/laziness.yaml``).

>>> resolve("rlnet://configs/dms_lowrank.yaml").name
'dms_lowrank.yaml'
>>> resolve("dms_lowrank") == root() / "configs" / "dms_lowrank.yaml"
True
>>> "callbacks/kernel_tracking.yaml" in listing()["callbacks"]
True
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

KINDS = ("configs", "sweeps", "callbacks")
SCHEME = "rlnet://"


def root() -> Path:
    """The directory holding the packaged ``configs/``, ``sweeps/`` and ``callbacks/``."""
    return Path(str(files("rlnet._resources")))


def listing() -> dict[str, list[str]]:
    """Every packaged file by kind, as ``KIND/relative/path`` (the names :func:`resolve` accepts)."""
    base = root()
    out: dict[str, list[str]] = {}
    for kind in KINDS:
        folder = base / kind
        paths = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(("_", ".")))
        out[kind] = [f"{kind}/{p.relative_to(folder).as_posix()}" for p in paths]
    return out


def resolve(name: str, kinds: tuple[str, ...] = KINDS) -> Path | None:
    """The file ``name`` stands for (see the module docstring), or ``None`` if there is none."""
    text = str(name)
    if text.startswith(SCHEME):
        p = root() / text[len(SCHEME):]
        return p if p.is_file() else None
    local = Path(text)
    if local.is_file():
        return local
    if local.is_absolute() or ".." in local.parts:
        return None
    base = root()
    candidates = [base / local]
    stem = local if local.suffix else local.with_suffix(".yaml")
    candidates += [base / kind / stem for kind in kinds]
    return next((c for c in candidates if c.is_file()), None)


def resolve_config_args(args: list[str]) -> list[str]:
    """``args`` with every ``--config X`` / ``--config=X`` that is not a file here replaced by the
    packaged file it names (left as it is when there is none: the parser then reports it)."""
    out = list(args)
    for i, a in enumerate(out):
        if a == "--config" and i + 1 < len(out):
            found = resolve(out[i + 1])
            if found is not None:
                out[i + 1] = str(found)
        elif a.startswith("--config="):
            found = resolve(a.split("=", 1)[1])
            if found is not None:
                out[i] = f"--config={found}"
    return out


def main(args: list[str] | None = None) -> int:
    """``rlnet configs [KIND]``: list the packaged configs, sweeps and callback presets."""
    kinds = [k for k in (args or []) if not k.startswith("-")] or list(KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or any(a in ("-h", "--help") for a in args or []):
        print(f"usage: rlnet configs [{' | '.join(KINDS)}]\n\nLists the files that ship with rlnet; pass any "
              f"of them to --config (configs, callbacks) or to `rlnet sweep` by its name, e.g. "
              f"`--config dms_lowrank` or `--config rlnet://configs/dms_lowrank.yaml`.")
        return 2 if unknown else 0
    found = listing()
    print(f"packaged in {root()}")
    for kind in kinds:
        print(f"\n{kind}/ ({len(found[kind])}):")
        for name in found[kind]:
            print(f"  {name}")
    return 0
