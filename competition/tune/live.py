"""A live view of a running study on the terminal (rich): trials done, best so far, the current
population, time left. Off when stderr is not a terminal; then one line per finished trial."""

from __future__ import annotations

import time
import warnings
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table


class LiveView:
    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.quiet = not enabled
        self.name, self.budget, self.deadline = "", 0, None
        self.done, self.best = 0, None
        self.current, self.shape, self.state = "-", "", "starting"
        self.epoch_text = ""
        self.live: Live | None = None
        self._last = 0.0

    def _render(self) -> Table:
        table = Table(title=f"comp tune · study {self.name}", show_header=False, box=None)
        left = "-" if self.deadline is None else f"{max(0.0, self.deadline - time.monotonic()):.0f} s"
        best = "-" if self.best is None else f"{self.best[1]:.5f} (trial {self.best[0]})"
        for key, value in (
            ("trials done", f"{self.done} / {self.budget}"),
            ("best OOF log-RMSE", best),
            ("running", f"{self.current} {self.shape} {self.epoch_text}".strip()),
            ("time left", left),
            ("now", self.state),
        ):
            table.add_row(f"[bold]{key}[/]", value)
        return table

    def _refresh(self, force: bool = False) -> None:
        if self.live is not None and (force or time.monotonic() - self._last > 0.25):
            self.live.update(self._render())
            self._last = time.monotonic()

    def begin(self, name: str, budget: int, deadline: float | None) -> None:
        self.name, self.budget, self.deadline = name, budget, deadline
        if self.enabled and self.live is None:
            self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
            self.live.start()

    def close(self) -> None:
        if self.live is not None:
            self._refresh(force=True)
            self.live.stop()
            self.live = None

    def status(self, text: str) -> None:
        self.state = text
        self._refresh(force=True)

    def warn(self, text: str) -> None:
        """A line that must be seen: printed above the live view (stderr), or a Python warning when
        the view is off (the Python API)."""
        if self.quiet:
            warnings.warn(text, stacklevel=2)
        else:
            self.console.print(f"[yellow]{escape(text)}[/]", highlight=False)

    def progress(self, done: int, best: tuple[int, float] | None) -> None:
        self.done, self.best = done, best
        self._refresh()

    def population(self, label: str, config: Any | None) -> None:
        self.current, self.epoch_text = label, ""
        self.shape = "" if config is None else (
            f"(hidden {config.mlp.hidden} x depth {config.mlp.depth}, batch {config.mlp.batch_size})")
        self.state = "training"
        self._refresh(force=True)

    def epoch(self, epoch: int, active: int) -> None:
        self.epoch_text = f"· epoch {epoch + 1}, {active} members training"
        self._refresh()

    def trial_done(self, number: int, outcome: Any, best: tuple[int, float] | None) -> None:
        self.done += 1
        self.best = best
        if self.live is None and not self.quiet:
            score = "pruned" if outcome.pruned else f"OOF {outcome.oof_score:.5f}"
            best_text = "" if best is None else f" · best {best[1]:.5f} (trial {best[0]})"
            self.console.print(f"trial {number}: {score} ({outcome.seconds:.1f} s){best_text}", highlight=False)
        self._refresh(force=True)
