"""What an :class:`~rlnet.models.RNNModule` ensemble varies per member, in plain Python (no torch),
so that the sweep driver reads it without importing Lightning.

Runs whose resolved configs differ only in :data:`MEMBER_KEYS` (under ``model.init_args``) train as
one ensemble in one process (:mod:`rlnet.experiments.packing`), each member exactly the network its
run trains alone; any other key keeps runs apart.
"""

from __future__ import annotations

#: The one list of per-member keys: each member's seed and initial structure.
MEMBER_KEYS: tuple[str, ...] = ("seed", "seeds", "n_members", "connectivity", "connectivities", "pairing")


def members_of(init_args: dict) -> list[dict]:
    """The members that ``model.init_args`` (a config mapping) trains, in :class:`RNNModule`'s order:
    ``[{"seed": int, "connectivity": <structure's config>}, ...]`` (``None``: the null structure).

    ``seeds`` (or ``seed + e`` for ``e < n_members``) and ``connectivities`` (or ``[connectivity]``),
    paired ``'product'`` (structure-major) or ``'zip'``."""
    seeds, n = init_args.get("seeds"), int(init_args.get("n_members", 1))
    if seeds is not None and len(seeds) != n and n != 1:
        raise ValueError(f"model.seeds has {len(seeds)} entries but model.n_members={n}")
    base = [int(s) for s in seeds] if seeds is not None else [int(init_args.get("seed", 0)) + e for e in range(n)]
    conns = init_args.get("connectivities")
    structures = list(conns) if conns is not None else [init_args.get("connectivity")]
    if not structures:
        raise ValueError("model.connectivities must name at least one structure")
    pairing = init_args.get("pairing", "product")
    if pairing == "zip":
        if len(structures) != len(base):
            raise ValueError("model.pairing='zip' needs as many seeds as connectivities")
        pairs = list(zip(structures, base, strict=True))
    elif pairing == "product":
        pairs = [(c, s) for c in structures for s in base]
    else:
        raise ValueError(f"model.pairing must be 'product' or 'zip', got {pairing!r}")
    return [{"seed": s, "connectivity": c} for c, s in pairs]
