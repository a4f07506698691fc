"""Initial connectivity structures, one per file, in a registry (paper App. C.1)."""

from rlnet.connectivity.base import (
    NORMALIZATIONS,
    REGISTRY,
    Connectivity,
    make,
    match_frobenius,
    match_leading_eigenvalue,
    null_gaussian,
    register,
    spectral_radius,
)
from rlnet.connectivity.cell_type import CellType
from rlnet.connectivity.chain_motifs import ChainMotifs
from rlnet.connectivity.dale import DaleBalanced
from rlnet.connectivity.em import EMConnectivity, load_em_matrix, validate_em_matrix
from rlnet.connectivity.em_standin import synthetic_em_standin
from rlnet.connectivity.from_file import FromFile
from rlnet.connectivity.null import Null
from rlnet.connectivity.soft_rank import SoftRank
from rlnet.connectivity.svd import SVDRank, svd_truncate
from rlnet.connectivity.teacher import TeacherAligned
from rlnet.connectivity.uniform import Uniform

__all__ = ["NORMALIZATIONS", "REGISTRY", "CellType", "ChainMotifs", "Connectivity", "DaleBalanced",
           "EMConnectivity", "FromFile", "Null", "SVDRank", "SoftRank", "TeacherAligned", "Uniform", "load_em_matrix",
           "make", "match_frobenius", "match_leading_eigenvalue", "null_gaussian", "register", "spectral_radius",
           "svd_truncate", "synthetic_em_standin", "validate_em_matrix"]
