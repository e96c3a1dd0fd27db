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

__all__ = [
    "MatrixInformationResult",
    "hdr",
    "head_rows",
    "matrix_entropy",
    "matrix_information",
    "matrix_mutual_information",
    "mir",
]
