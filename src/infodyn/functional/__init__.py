"""Pure-torch metric functions: no state, no hooks, differentiable where it makes sense."""

from infodyn.functional.dependence import (
    gaussian_kernel,
    hsic,
    linear_kernel,
    mutual_information,
    nhsic,
)
from infodyn.functional.matrix_info import (
    MatrixInformationResult,
    hdr,
    head_rows,
    matrix_entropy,
    matrix_information,
    matrix_mutual_information,
    mir,
)
from infodyn.functional.richness import (
    RichnessResult,
    d_lr,
    linear_cka,
    parameter_norm,
    richness,
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
from infodyn.functional.te_layers import (
    LayerPairTransferEntropy,
    layer_transfer_entropy,
    neuron_series,
    te_information_plane,
)

__all__ = [
    "LayerPairTransferEntropy",
    "MatrixInformationResult",
    "RichnessResult",
    "TransferEntropySignificance",
    "TransitionCounts",
    "binarize",
    "binarize_fixed",
    "d_lr",
    "gaussian_kernel",
    "hdr",
    "head_rows",
    "hsic",
    "layer_transfer_entropy",
    "linear_cka",
    "linear_kernel",
    "matrix_entropy",
    "matrix_information",
    "matrix_mutual_information",
    "mir",
    "mutual_information",
    "neuron_series",
    "nhsic",
    "parameter_norm",
    "richness",
    "te_information_plane",
    "transfer_entropy",
    "transfer_entropy_from_counts",
    "transfer_entropy_null",
    "transition_counts",
]
