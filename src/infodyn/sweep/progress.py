"""Rich progress of a sweep: runs done / total with an ETA, and one step bar per active run."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TaskID

from infodyn._progress import progress_columns

__all__ = ["SweepProgress"]


class SweepProgress:
    """What the driver shows while a sweep runs; every method is a no-op when ``quiet``.

    Use it as a context manager; :meth:`begin` sets the run count before any run starts.
    """

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self._bar = Progress(*progress_columns(), console=console, disable=quiet)
        self._quiet = quiet
        self._overall: TaskID | None = None
        self._runs: dict[str, TaskID] = {}

    def __enter__(self) -> SweepProgress:
        self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def begin(self, total: int, done: int) -> None:
        """``total`` runs in the sweep, ``done`` of them finished before this command."""
        # Runs finished earlier are not counted toward the speed, so the ETA reflects this
        # command's pace: start at 0 of the remaining runs.
        self._overall = self._bar.add_task(
            f"runs ({done} done before)" if done else "runs", total=total - done
        )

    def started(self, name: str, resumed_from: int | None) -> None:
        if name not in self._runs:
            self._runs[name] = self._bar.add_task(f"  {escape(name)}", total=None)
        if resumed_from is not None:
            self._bar.update(self._runs[name], completed=resumed_from)

    def stepped(self, name: str, step: int, total: int) -> None:
        if name in self._runs:
            self._bar.update(self._runs[name], completed=step, total=total)

    def finished(self, name: str, state: str) -> None:
        task = self._runs.pop(name, None)
        if task is not None:
            self._bar.remove_task(task)
        if self._overall is not None:
            self._bar.advance(self._overall)
        if state == "failed" and not self._quiet:
            self._bar.console.print(f"[bold red]failed:[/] {escape(name)}", highlight=False)
