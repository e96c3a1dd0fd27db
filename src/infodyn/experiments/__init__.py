"""Built-in experiments; importing this package registers them."""

from infodyn.experiments import grokking as _grokking  # noqa: F401  (registers "grokking")
from infodyn.experiments import info_loss as _info_loss  # noqa: F401  (registers "info-loss")
from infodyn.experiments import lazy_rich as _lazy_rich  # noqa: F401  (registers "lazy-rich")
from infodyn.experiments import lmc as _lmc  # noqa: F401  (registers "lmc")
from infodyn.experiments import richness_study as _richness_study  # noqa: F401  (registers it)
from infodyn.experiments import te_plane as _te_plane  # noqa: F401  (registers "te-plane")
from infodyn.experiments import weight_decay as _weight_decay  # noqa: F401  (registers it)
from infodyn.experiments.base import Experiment, ExperimentConfig, experiment_names, get_experiment

__all__ = ["Experiment", "ExperimentConfig", "experiment_names", "get_experiment"]
