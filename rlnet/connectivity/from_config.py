"""A structure rebuilt from a saved config through rlnet's registry: never an import of a name.

Results files (``metrics.json``, a results table) store each run's config, whose
``model.init_args.connectivity`` reads ``{"class_path": ..., "init_args": {...}}``. Readers of
results must not hand that ``class_path`` to an importer: a crafted file could name
``subprocess.run``. :func:`structure_from_config` accepts only the names of the structures in
:data:`rlnet.connectivity.REGISTRY` (``SVDRank``, ``rlnet.connectivity.SVDRank``,
``rlnet.connectivity.svd.SVDRank`` or the registry name ``svd``), checks the arguments against the
class's signature (known names only, plain JSON values, finite numbers), and refuses structures that
read files (``path``, ``checkpoint``): results are data, and rebuilding from them reads nothing else.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from rlnet.connectivity.base import REGISTRY, Connectivity

# Arguments that make a structure read a file (a matrix, a teacher's checkpoint).
FILE_ARGUMENTS = ("path", "checkpoint")
_MAX_STRING = 1000


def allowed_names() -> dict[str, type[Connectivity]]:
    """Every accepted spelling of every registered structure, mapped to its class."""
    out: dict[str, type[Connectivity]] = {}
    for name, cls in REGISTRY.items():
        for key in (name, cls.__name__, f"rlnet.connectivity.{cls.__name__}", f"{cls.__module__}.{cls.__name__}"):
            out[key] = cls
    return out


def _plain(v: Any, key: str) -> None:
    if v is None or isinstance(v, (bool, int, str)):
        if isinstance(v, str) and len(v) > _MAX_STRING:
            raise ValueError(f"connectivity argument {key!r} is a string of {len(v)} characters")
        return
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"connectivity argument {key!r} is {v}, not a finite number")
        return
    if isinstance(v, list) and len(v) <= 10_000:
        for x in v:
            if isinstance(x, (list, dict)):
                raise ValueError(f"connectivity argument {key!r} nests lists or mappings")
            _plain(x, key)
        return
    raise ValueError(f"connectivity argument {key!r} has a {type(v).__name__} value; expected a number, "
                     f"string, boolean or list")


def structure_from_config(spec: Any) -> Connectivity:
    """The registered structure ``spec`` names (``None``: the null draw), built with checked
    arguments; ``ValueError`` naming what is refused (an unknown name, an unknown argument, a value
    that is not plain data, a structure that reads a file)."""
    from rlnet.connectivity.null import Null

    if spec is None:
        return Null()
    if isinstance(spec, str):
        spec = {"class_path": spec}
    if not isinstance(spec, dict):
        raise ValueError(f"connectivity is a {type(spec).__name__}, expected a mapping with class_path")
    unknown_keys = set(spec) - {"class_path", "init_args", "dict_kwargs"}
    if unknown_keys:
        raise ValueError(f"connectivity has unexpected keys {sorted(map(str, unknown_keys))}")
    name = spec.get("class_path")
    allowed = allowed_names()
    if not isinstance(name, str) or name not in allowed:
        shown = repr(name)[:80]
        raise ValueError(f"connectivity class_path {shown} is not one of rlnet's registered structures "
                         f"{sorted(REGISTRY)}; not rebuilt")
    cls = allowed[name]
    args = dict(spec.get("init_args") or {})
    args.update(spec.get("dict_kwargs") or {})
    params = inspect.signature(cls.__init__).parameters
    named = {k for k, p in params.items() if k != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for k, v in args.items():
        if not isinstance(k, str) or k not in named:
            raise ValueError(f"connectivity {cls.__name__} has no argument {str(k)[:80]!r}")
        _plain(v, k)
        if k in FILE_ARGUMENTS and v not in (None, ""):
            raise ValueError(f"connectivity {cls.__name__} reads a file ({k}={str(v)[:200]}); not rebuilt from "
                             f"results")
    if cls.registry_name == "file" or cls.registry_name == "teacher":  # their file argument has a default
        raise ValueError(f"connectivity {cls.__name__} reads a file; not rebuilt from results")
    return cls(**args)
