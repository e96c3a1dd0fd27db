"""Re-measure every family at every checkpoint: of an infodyn run, or of other code's training.

:func:`inspect_run` reads a run directory's checkpoints (keep them with
``--set archive_checkpoints=1``, or every k-th with ``k``) and measures each with
:func:`infodyn.measure` on the experiment's evaluation splits. :func:`inspect_checkpoints`
does the same for state dicts written by any training code, given the model and the data.
Both write a new run directory — store, figures and report — like ``infodyn run``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from infodyn.checkpoint import list_checkpoints, load_checkpoint
from infodyn.families import MeasureCaps
from infodyn.measuring import measure
from infodyn.rundir import RunDir

__all__ = [
    "InspectTarget",
    "checkpoint_steps",
    "import_object",
    "inspect_checkpoints",
    "inspect_files",
    "inspect_run",
    "load_state_dict_file",
]

#: ``progress(done, total)`` after each checkpoint.
Progress = Callable[[int, int], None]
#: Loads one checkpoint's model state dict when called (one in memory at a time).
StateLoader = Callable[[], Mapping[str, Tensor]]


@dataclass(frozen=True)
class InspectTarget:
    """What to measure at each checkpoint: the model, its data splits, where the head is.

    Attributes:
        model: The network the checkpoints' state dicts load into.
        splits: ``{split: () -> batches}``: a fresh pass over each split per checkpoint.
        head: The classifier head (None: found by :func:`infodyn.measure`).
        features: Module whose input is the feature matrix (None: the head).
    """

    model: nn.Module
    splits: Mapping[str, Callable[[], Iterable[Any]]]
    head: str | None = None
    features: str | None = None


def inspect_checkpoints(
    target: InspectTarget,
    checkpoints: Sequence[tuple[int, StateLoader]],
    out: RunDir,
    *,
    families: str | Sequence[str] = "all",
    caps: MeasureCaps | None = None,
    progress: Progress | None = None,
) -> RunDir:
    """Load each ``(step, load)``'s state dict into the model, measure every split; draw the run.

    Records go to ``out``'s store at each checkpoint's step under each split's name; the
    figures and ``report.html`` are drawn at the end.
    """
    from infodyn.report import write_report
    from infodyn.runner import summarize_run
    from infodyn.viz import draw_run_figures

    with out.store() as store:
        for done, (step, load) in enumerate(checkpoints, start=1):
            _load(target.model, load(), step)
            for split, batches in target.splits.items():
                result = measure(
                    target.model,
                    batches(),
                    families=families,
                    head=target.head,
                    features=target.features,
                    caps=caps,
                )
                result.write(store, step=step, split=split)
            store.set_meta("steps_completed", step)
            if progress is not None:
                progress(done, len(checkpoints))
    summary = summarize_run(out)
    draw_run_figures(out, summary)
    write_report(out, summary, redraw=False)
    return out


def _load(model: nn.Module, state: Mapping[str, Tensor], step: int) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(
            f"the checkpoint of step {step} does not fit the model {type(model).__name__}: {error}"
        ) from None


def inspect_run(
    run: RunDir,
    out: Path | None = None,
    *,
    families: str | Sequence[str] = "all",
    caps: MeasureCaps | None = None,
    progress: Progress | None = None,
) -> RunDir:
    """Measure every kept checkpoint of ``run`` on its experiment's evaluation splits.

    The experiment rebuilds its model and data from the run's config (same seed, same
    splits); each checkpoint's weights are loaded and measured with :func:`infodyn.measure`.

    Args:
        run: An infodyn run directory.
        out: The new run directory (default ``<run>/inspect``; must not exist).
        families, caps: As in :func:`infodyn.measure`.
        progress: Called after each checkpoint.

    Raises:
        ValueError: The run kept no checkpoint.
    """
    from infodyn.runner import reopen_run

    run, config = reopen_run(run.root)
    found = list_checkpoints(run, archived=True)
    if not found:
        raise ValueError(
            f"{run.root} has no checkpoint; run with --set archive_checkpoints=1 (every "
            f"checkpoint) or =k (every k-th) to keep them for inspection"
        )
    from infodyn.experiments import get_experiment

    experiment = get_experiment(config.experiment)
    torch.set_num_threads(config.threads)
    setup = experiment.build(config, torch.device(config.device))
    plan = experiment.probes(setup, config)
    target = InspectTarget(setup.model, plan.evaluation, head=plan.head, features=plan.features)
    destination = RunDir.create(
        out if out is not None else run.root / "inspect",
        {
            "experiment": "inspect",
            "source": str(run.root),
            "source_experiment": config.experiment,
            "families": families if isinstance(families, str) else list(families),
            "checkpoints": [step for step, _ in found],
        },
    )
    checkpoints = [(step, _infodyn_weights(path, step)) for step, path in found]
    return inspect_checkpoints(
        target,
        checkpoints,
        destination,
        families=families,
        caps=caps,
        progress=progress,
    )


def inspect_files(
    model_spec: str,
    paths: Sequence[Path],
    data_spec: str,
    out: RunDir,
    *,
    families: str | Sequence[str] = "all",
    progress: Progress | None = None,
) -> RunDir:
    """Measure state-dict files written by other training code (``infodyn inspect --model``).

    Args:
        model_spec: ``"package.module:factory"``; ``factory()`` returns the ``nn.Module``.
        paths: The checkpoint files, ordered by the step in their names
            (:func:`checkpoint_steps`), each loaded by :func:`load_state_dict_file`.
        data_spec: ``"package.module:factory"``; ``factory()`` returns a loader (split
            ``"eval"``) or ``{split: loader}``; loaders must be re-iterable (a DataLoader).
        out: The new run directory.
        families: As in :func:`infodyn.measure`.
        progress: Called after each checkpoint.
    """
    if not paths:
        raise ValueError("--checkpoint: give at least one state-dict file")
    for path in paths:
        if not path.is_file():
            raise ValueError(f"--checkpoint: {path} is not a file")
    model = import_object(model_spec, "--model")()
    if not isinstance(model, nn.Module):
        raise ValueError(f"--model: {model_spec}() returned {type(model).__name__}, not nn.Module")
    data = import_object(data_spec, "--data")()
    loaders = data if isinstance(data, Mapping) else {"eval": data}
    splits = {str(split): _again(loader) for split, loader in loaders.items()}
    ordered = checkpoint_steps(list(paths))
    checkpoints = [(step, _file_weights(path)) for step, path in ordered]
    return inspect_checkpoints(
        InspectTarget(model, splits), checkpoints, out, families=families, progress=progress
    )


def _again(loader: Iterable[Any]) -> Callable[[], Iterable[Any]]:
    return lambda: loader


def _file_weights(path: Path) -> StateLoader:
    return lambda: load_state_dict_file(path)


def _infodyn_weights(path: Path, step: int) -> StateLoader:
    return lambda: load_checkpoint(path, step)["model"]


def import_object(spec: str, argument: str) -> Any:
    """The object named by ``"package.module:attribute"`` (a clear error naming ``argument``)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{argument}: expected 'package.module:name', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"{argument}: cannot import {module_name!r}: {error}") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"{argument}: module {module_name!r} has no {attribute!r}") from None


_STEP = (re.compile(r"step[=_-]?(\d+)", re.IGNORECASE), re.compile(r"(\d+)"))


def _step_in_name(path: Path) -> int | None:
    for pattern in _STEP:
        found = pattern.findall(path.stem)
        if found:
            return int(found[-1])
    return None


def checkpoint_steps(paths: Sequence[Path]) -> list[tuple[int, Path]]:
    """``(step, path)`` in step order: the step in each name (``step=600``, ``step_600``, or
    its last number); if any name has none, the given order with steps 0, 1, 2, ….

    Example:
        >>> checkpoint_steps([Path("epoch=2-step=300.ckpt"), Path("epoch=0-step=100.ckpt")])
        [(100, PosixPath('epoch=0-step=100.ckpt')), (300, PosixPath('epoch=2-step=300.ckpt'))]
        >>> [s for s, _ in checkpoint_steps([Path("final.pt"), Path("best.pt")])]
        [0, 1]
    """
    steps = [_step_in_name(p) for p in paths]
    if any(step is None for step in steps):
        return list(enumerate(paths))
    pairs = [(int(step), path) for step, path in zip(steps, paths, strict=True) if step is not None]
    if len({step for step, _ in pairs}) != len(pairs):
        raise ValueError(f"two checkpoints name the same step: {[p.name for p in paths]}")
    return sorted(pairs)


def load_state_dict_file(path: Path) -> dict[str, Tensor]:
    """A model state dict from ``path``, loaded with ``torch.load(weights_only=True)``.

    Accepted: a state dict itself; a dict holding one under ``"state_dict"`` (Lightning) or
    ``"model"``; an infodyn checkpoint. Anything else is refused with what was found.
    """
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:
        raise ValueError(
            f"{path} cannot be loaded with torch.load(weights_only=True) "
            f"({type(error).__name__}: {str(error).splitlines()[0]}); infodyn loads state "
            f"dicts only — save model.state_dict(), not the model object"
        ) from None
    for candidate in (
        payload,
        _get(payload, "state_dict"),
        _get(payload, "model"),
        _get(_get(payload, "state"), "model"),
    ):
        if _is_state_dict(candidate):
            return dict(candidate)
    keys = sorted(payload)[:10] if isinstance(payload, Mapping) else type(payload).__name__
    raise ValueError(
        f"{path} holds no model state dict (found {keys}); pass files of model.state_dict(), "
        f"or dicts with it under 'state_dict' or 'model'"
    )


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def _is_state_dict(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in value.items())
    )
