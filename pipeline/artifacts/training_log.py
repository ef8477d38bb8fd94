"""Per-epoch training logs through dvclive, DVC's logger, and their reader.

Each train stage logs to its own dvclive directory (``dvclive/<model>``): one TSV per metric under
``plots/metrics/`` (``step`` = epoch, no timestamps, so the same run writes the same bytes) and the
summary ``metrics.json``, both rewritten as every epoch ends, so ``dvc plots show`` and DVC's VS Code
extension follow a run while it trains. When training ends the summary holds the kept epoch (early
stopping restores its parameters), not the last one run.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from pipeline.artifacts.layout import LIVE_PLOTS
from pipeline.core.errors import PipelineError
from pipeline.models.base import EpochLog

LOGGED = ("loss", "active_share", "val_p1")
DIGITS = 4


def logged_values(entry: EpochLog) -> dict[str, float]:
    """The logged metrics of an epoch, rounded; those a model does not have (NaN, e.g. L2's loss) left out."""
    values = {name: getattr(entry, name) for name in LOGGED}
    return {name: round(float(value), DIGITS) for name, value in values.items() if not math.isnan(value)}


class TrainingLog:
    """A dvclive run for one model: call it with each :class:`EpochLog`, then :meth:`finish`.

    Parameters
    ----------
    directory : path
        dvclive's directory; its earlier content is replaced.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        # No dvc.yaml of dvclive's own (the project's declares the plots), no report, no `dvc exp save`:
        # the run is a stage of the pipeline.
        from dvclive import Live  # here: the readers below need no dvclive (it imports for seconds)

        self.live = Live(os.fspath(directory), save_dvc_exp=False, dvcyaml=None, report=None)

    def __call__(self, entry: EpochLog) -> None:
        self.live.step = entry.epoch
        for name, value in logged_values(entry).items():
            self.live.log_metric(name, value)
        self.live.next_step()

    def finish(self, kept: EpochLog) -> None:
        """Write the summary of the kept epoch and close the run."""
        self.live.summary = {**logged_values(kept), "step": kept.epoch}
        self.live.end()


def read_curve(live_dir: str | os.PathLike, metric: str) -> list[dict]:
    """``epoch`` and ``metric`` of each epoch a train stage logged (``step`` is the epoch).

    Every model logs ``val_p1`` (a missing one is an error); a model without a training loss (L2, a
    closed form) logs no ``loss`` and gets no rows for it.
    """
    path = Path(live_dir) / LIVE_PLOTS / "metrics" / f"{metric}.tsv"
    if metric != "val_p1" and not path.exists():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return [{"epoch": int(row["step"]), metric: row[metric]}
                    for row in csv.DictReader(handle, delimiter="\t")]
    except (OSError, KeyError, ValueError) as exc:
        raise PipelineError(f"{path}: cannot read the training log ({exc}); rerun train") from exc
