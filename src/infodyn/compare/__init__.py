"""Compare runs: group runs and sweeps by config values, curves with seed bands, one page.

Computing (:mod:`~infodyn.compare.load`, :mod:`~infodyn.compare.groups`,
:mod:`~infodyn.compare.stats`, :mod:`~infodyn.compare.build`) is separate from drawing
(:mod:`~infodyn.compare.figures`) and from the page (:mod:`~infodyn.compare.report`);
:mod:`~infodyn.compare.extension` asks the runs' experiment for tables and figures of its own
(``Experiment.summarize_comparison``); :mod:`~infodyn.compare.output` writes all of it and
:mod:`~infodyn.compare.cli` is the command.
"""

from infodyn.compare.build import Comparison, FinalValue, GroupResult, build_comparison
from infodyn.compare.extension import ExperimentPart, experiment_part
from infodyn.compare.groups import Group, check_group_keys, group_runs, infer_group_keys
from infodyn.compare.load import ComparedRun, CompareError, LoadedRuns, SkippedRun, load_runs
from infodyn.compare.output import CompareOutputs, comparison_record, write_comparison
from infodyn.compare.stats import (
    AlignedRuns,
    SeedBand,
    ValueStats,
    align_on_shared_steps,
    seed_band,
    value_stats,
)

__all__ = [
    "AlignedRuns",
    "CompareError",
    "CompareOutputs",
    "ComparedRun",
    "Comparison",
    "ExperimentPart",
    "FinalValue",
    "Group",
    "GroupResult",
    "LoadedRuns",
    "SeedBand",
    "SkippedRun",
    "ValueStats",
    "align_on_shared_steps",
    "build_comparison",
    "check_group_keys",
    "comparison_record",
    "experiment_part",
    "group_runs",
    "infer_group_keys",
    "load_runs",
    "seed_band",
    "value_stats",
    "write_comparison",
]
