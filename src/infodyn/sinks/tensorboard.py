"""``TensorBoardSink``: scalars with their step, arrays as histograms, figures as images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infodyn.sinks.base import RecordSink, record_tag
from infodyn.store import Array, Scalar

__all__ = ["TensorBoardSink"]


class TensorBoardSink(RecordSink):
    """Mirror records into TensorBoard event files (``pip install infodyn[tensorboard]``).

    Each scalar record becomes ``add_scalar(tag, value, step)`` with the tag
    ``split/metric[/layer]`` (:func:`~infodyn.sinks.record_tag`), so TensorBoard groups the
    curves by split. Array records (TE matrices, spectra) become histograms of their values
    (``arrays=False`` leaves them to the store). At the end each figure is added as an image
    (tag ``figures/<name>``, at the last step) and the config as text.

    Args:
        log_dir: Directory of the event files (e.g. ``runs/tb/<run name>``).
        arrays: Also write array records, as histograms.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     sink = TensorBoardSink(d)
        ...     sink.start("demo", {"lr": 0.1}, {})
        ...     sink.write([Scalar(10, "test", "mir", 0.4, "head:input")], [])
        ...     sink.close()
    """

    name = "tensorboard"

    def __init__(self, log_dir: str | Path, *, arrays: bool = True) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise ImportError(
                "TensorBoardSink needs the tensorboard package: pip install infodyn[tensorboard]"
            ) from error
        self.log_dir = Path(log_dir)
        self.arrays = arrays
        self._writer = SummaryWriter(log_dir=str(self.log_dir))
        self._last_step = 0

    def start(self, run_name: str, config: Mapping[str, Any], state: dict[str, Any]) -> None:
        lines = "\n".join(f"    {key} = {value!r}" for key, value in sorted(config.items()))
        self._writer.add_text("config", f"run {run_name}\n\n{lines}", global_step=0)

    def write(self, scalars: Sequence[Scalar], arrays: Sequence[Array]) -> None:
        for record in scalars:
            tag = record_tag(record.split, record.metric, record.layer)
            self._writer.add_scalar(tag, record.value, global_step=record.step)
            self._last_step = max(self._last_step, record.step)
        if self.arrays:
            for array in arrays:
                if array.value.size > 1:
                    tag = record_tag(array.split, array.metric, array.layer)
                    self._writer.add_histogram(tag, array.value, global_step=array.step)
        # No flush here: this runs after every store transaction (each training step), and
        # SummaryWriter flushes on its own timer and at close().

    def finish(self, figures: Sequence[Path], artifacts: Sequence[Path]) -> None:
        import matplotlib.image

        for figure in figures:
            image = matplotlib.image.imread(figure)
            self._writer.add_image(
                f"figures/{Path(figure).stem}", image, self._last_step, dataformats="HWC"
            )
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
