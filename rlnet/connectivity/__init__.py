"""Initial connectivity structures, one per file, in a registry (paper App. C.1, SPEC 2)."""

from rlnet.connectivity.base import REGISTRY, Connectivity, make, match_frobenius, null_gaussian, register
from rlnet.connectivity.from_file import FromFile
from rlnet.connectivity.null import Null
from rlnet.connectivity.svd import SVDRank, svd_truncate
from rlnet.connectivity.teacher import TeacherAligned
from rlnet.connectivity.uniform import Uniform

__all__ = ["REGISTRY", "Connectivity", "FromFile", "Null", "SVDRank", "TeacherAligned", "Uniform", "make",
           "match_frobenius",
           "null_gaussian", "register", "svd_truncate"]
