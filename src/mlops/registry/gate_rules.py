"""The gate's rules: what a candidate must show, alone and against the model in production.

Pure functions of the numbers a gate record holds, so the registry can check that a committed
record's verdict follows from its own numbers and the rules, rather than trust its verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlops.config import GateParams


@dataclass(frozen=True)
class Rule:
    name: str
    value: float
    limit: float
    passed: bool
    candidate: float | None = None
    champion: float | None = None


def judged_slices(
    metric: str, candidate: dict[str, Any], champion: dict[str, Any]
) -> list[tuple[str, str]]:
    """The slices compared with the champion: those both models were scored on (at least
    ``min_slice_rows`` rows) and on which ``metric`` is defined."""
    return [
        (column, value)
        for column, values in champion["slices"].items()
        for value, theirs in values.items()
        if (ours := candidate["slices"].get(column, {}).get(value)) is not None
        and _defined(ours[metric])
        and _defined(theirs[metric])
    ]


def _defined(value: float | None) -> bool:
    """A slice's metric, unless the slice had one class (null in JSON, NaN in memory)."""
    return value is not None and not math.isnan(value)


def decide(
    rules: GateParams,
    candidate: dict[str, Any],
    champion: dict[str, Any] | None,
    evidence: dict[str, Any] | None,
) -> list[Rule]:
    """Every rule with its values; with no champion, only the absolute ones apply.

    Against the champion the rules read the intervals of ``evidence`` (the record's), never a
    bare difference: the primary metric's lower bound says the candidate is not worse beyond
    noise, each judged slice's upper bound that it is not surely worse there.
    """
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
    if evidence is None:
        raise ValueError("a comparison with the champion needs its evidence")
    primary, overall = rules.primary, evidence["primary"]
    results.append(
        Rule(
            f"lower bound {primary} vs champion",
            overall["low"],
            rules.min_lower_bound,
            overall["low"] >= rules.min_lower_bound,
            metrics[primary],
            champion["metrics"][primary],
        )
    )
    slices = {(item["column"], item["value"]): item for item in evidence["slices"]}
    for column, value in judged_slices(primary, candidate, champion):
        high = slices[(column, value)]["high"]
        results.append(
            Rule(
                f"slice {column}={value} {primary} upper bound",
                high,
                rules.slice_min_upper_bound,
                high >= rules.slice_min_upper_bound,
                candidate["slices"][column][value][primary],
                champion["slices"][column][value][primary],
            )
        )
    return results
