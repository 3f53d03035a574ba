"""Summaries of collected rows per time window, mergeable across files and Dask workers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from mlops.distribution import CATEGORICAL, NUMERIC, Distribution
from mlops.monitoring.logs import SCORE, TIME, WINDOW, LogLayout


@dataclass
class WindowSummary:
    """Rows, time span, model versions, and every feature's and the score's distribution (the
    model's output: a number, or a multiclass model's class)."""

    rows: int
    start: pd.Timestamp
    end: pd.Timestamp
    features: dict[str, Distribution]
    score: Distribution
    model_versions: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, rows: pd.DataFrame, layout: LogLayout) -> WindowSummary:
        kinds = {name: CATEGORICAL for name in layout.categorical}
        kinds |= {name: NUMERIC for name in layout.numeric}
        # Tallied by pandas: a Counter walks the column a Python object at a time (59 ms for
        # 112,768 rows against 2 ms: about 5 s of a 10-million-row log's 42 s of CPU).
        versions = rows["model_version"].value_counts()
        return cls(
            rows=len(rows),
            start=rows[TIME].min(),
            end=rows[TIME].max(),
            features={name: Distribution.of(rows[name], kind) for name, kind in kinds.items()},
            score=Distribution.of(rows[SCORE], layout.score_kind),
            model_versions=Counter({str(version): int(n) for version, n in versions.items()}),
        )

    def merge(self, other: WindowSummary) -> WindowSummary:
        return WindowSummary(
            rows=self.rows + other.rows,
            start=min(self.start, other.start),
            end=max(self.end, other.end),
            features={
                name: summary.merge(other.features[name]) for name, summary in self.features.items()
            },
            score=self.score.merge(other.score),
            model_versions=self.model_versions + other.model_versions,
        )


Summaries = dict[str, WindowSummary]


def summarize(frame: pd.DataFrame, layout: LogLayout) -> Summaries:
    """The summary of each window present in ``frame``."""
    return {
        str(window): WindowSummary.of(rows, layout)
        for window, rows in frame.groupby(WINDOW, sort=True)
    }


def combine(total: Summaries, part: Summaries) -> Summaries:
    """Add one part's windows to the running total (in place) and return it."""
    for window, summary in part.items():
        total[window] = total[window].merge(summary) if window in total else summary
    return total
