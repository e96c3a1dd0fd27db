"""Pure-torch metric functions: no state, no hooks, differentiable where it makes sense."""

from infodyn.functional.baselines import linear_cka, parameter_norm
from infodyn.functional.binarize import binarize, binarize_batches, binarize_fixed
from infodyn.functional.collapse import (
    CollapseStats,
    between_class_variance,
    cdnv,
    margins,
    mean_feature_norm,
    nc1,
    nc1_trace,
    nc2_cond,
    nc2_equiangularity,
    nc2_equinorm,
    nc2_etf_error,
    nc3,
    nc4,
    rnc1,
    within_class_variance,
)
from infodyn.functional.dependence import (
    gaussian_kernel,
    hsic,
    linear_kernel,
    mutual_information,
    nhsic,
)
from infodyn.functional.kl_entropy import kl_entropy, kl_weights
from infodyn.functional.matrix_info import (
    MatrixInformationResult,
    hdr,
    head_rows,
    matrix_entropy,
    matrix_information,
    matrix_mutual_information,
    mir,
)
from infodyn.functional.neurons import neuron_series
from infodyn.functional.richness import (
    RichnessResult,
    d_lr,
    richness,
)
from infodyn.functional.te import (
    TransferEntropySignificance,
    TransitionCounts,
    transfer_entropy,
    transfer_entropy_from_counts,
    transfer_entropy_null,
    transition_counts,
)
from infodyn.functional.te_layers import (
    LayerPairTransferEntropy,
    layer_transfer_entropy,
    te_information_plane,
)
from infodyn.functional.te_trends import spearman
from infodyn.functional.te_windows import (
    TransferEntropyWindows,
    transfer_entropy_windows,
    window_bounds,
)

__all__ = [
    "CollapseStats",
    "LayerPairTransferEntropy",
    "MatrixInformationResult",
    "RichnessResult",
    "TransferEntropySignificance",
    "TransferEntropyWindows",
    "TransitionCounts",
    "between_class_variance",
    "binarize",
    "binarize_batches",
    "binarize_fixed",
    "cdnv",
    "d_lr",
    "gaussian_kernel",
    "hdr",
    "head_rows",
    "hsic",
    "kl_entropy",
    "kl_weights",
    "layer_transfer_entropy",
    "linear_cka",
    "linear_kernel",
    "margins",
    "matrix_entropy",
    "matrix_information",
    "matrix_mutual_information",
    "mean_feature_norm",
    "mir",
    "mutual_information",
    "nc1",
    "nc1_trace",
    "nc2_cond",
    "nc2_equiangularity",
    "nc2_equinorm",
    "nc2_etf_error",
    "nc3",
    "nc4",
    "neuron_series",
    "nhsic",
    "parameter_norm",
    "richness",
    "rnc1",
    "spearman",
    "te_information_plane",
    "transfer_entropy",
    "transfer_entropy_from_counts",
    "transfer_entropy_null",
    "transfer_entropy_windows",
    "transition_counts",
    "window_bounds",
    "within_class_variance",
]
