"""The gate's rules: what a candidate must show, alone and against the model in production.

Pure functions of the numbers a gate record holds, so the registry can check that a committed
record's verdict follows from its own numbers and the rules, rather than trust its verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlops.config import GateParams

LOWER_IS_BETTER = frozenset({"log_loss", "brier"})


@dataclass(frozen=True)
class Rule:
    name: str
    value: float
    limit: float
    passed: bool
    candidate: float | None = None
    champion: float | None = None


def _gain(metric: str, candidate: float, champion: float) -> float:
    """How much better the candidate is; positive is better whatever the metric's direction."""
    return champion - candidate if metric in LOWER_IS_BETTER else candidate - champion


def decide(
    rules: GateParams, candidate: dict[str, Any], champion: dict[str, Any] | None
) -> list[Rule]:
    """Every rule with its values; with no champion, only the absolute ones apply."""
    metrics = candidate["metrics"]
    results = [
        Rule(f"floor {name}", metrics[name], floor, metrics[name] >= floor)
        for name, floor in rules.floors.items()
    ]
    results += [
        Rule(f"ceiling {name}", metrics[name], ceiling, metrics[name] <= ceiling)
        for name, ceiling in rules.ceilings.items()
    ]
    results += [
        Rule(
            "budget p99 single-row ms",
            candidate["p99_single_row_ms"],
            rules.max_p99_single_row_ms,
            candidate["p99_single_row_ms"] <= rules.max_p99_single_row_ms,
        ),
        Rule(
            "budget model size bytes",
            candidate["model_size_bytes"],
            rules.max_model_size_bytes,
            candidate["model_size_bytes"] <= rules.max_model_size_bytes,
        ),
    ]
    if champion is None:
        return results
    primary = rules.primary
    gain = _gain(primary, metrics[primary], champion["metrics"][primary])
    results.append(
        Rule(
            f"improvement {primary} vs champion",
            round(gain, 6),
            rules.min_improvement,
            gain >= rules.min_improvement,
            metrics[primary],
            champion["metrics"][primary],
        )
    )
    for column, values in champion["slices"].items():
        for value, theirs in values.items():
            ours = candidate["slices"].get(column, {}).get(value)
            if ours is None or pd.isna(ours[primary]) or pd.isna(theirs[primary]):
                continue
            drop = round(-_gain(primary, ours[primary], theirs[primary]), 6)
            results.append(
                Rule(
                    f"slice {column}={value} {primary} drop",
                    drop,
                    rules.max_slice_regression,
                    drop <= rules.max_slice_regression,
                    ours[primary],
                    theirs[primary],
                )
            )
    return results
