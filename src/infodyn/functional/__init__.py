"""Pure-torch metric functions: no state, no hooks, differentiable where it makes sense."""

from infodyn.functional.matrix_info import (
    MatrixInformationResult,
    hdr,
    head_rows,
    matrix_entropy,
    matrix_information,
    matrix_mutual_information,
    mir,
)
from infodyn.functional.te import (
    TransferEntropySignificance,
    TransitionCounts,
    binarize,
    binarize_fixed,
    transfer_entropy,
    transfer_entropy_from_counts,
    transfer_entropy_null,
    transition_counts,
)

__all__ = [
    "MatrixInformationResult",
    "TransferEntropySignificance",
    "TransitionCounts",
    "binarize",
    "binarize_fixed",
    "hdr",
    "head_rows",
    "matrix_entropy",
    "matrix_information",
    "matrix_mutual_information",
    "mir",
    "transfer_entropy",
    "transfer_entropy_from_counts",
    "transfer_entropy_null",
    "transition_counts",
]
