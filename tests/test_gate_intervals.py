"""The gate's evidence: paired bootstrap intervals of candidate - champion, and the rules that
read them.

Made-up labels and scores (rounded, so that scores tie) and the pipeline's own metric code: what
is tested is the arithmetic of the resamples and the decisions taken on their intervals,
whatever model made the scores.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops.columns import LABEL
from mlops.config import EvidenceParams, GateParams
from mlops.pipeline.metrics import by_slice, score
from mlops.registry import bootstrap, gate
from mlops.registry.gate_rules import decide
from mlops.task import Predictions, Task

ROWS = 4000
METRICS = ("roc_auc", "pr_auc", "f1", "log_loss", "brier")
SETTINGS = EvidenceParams(resamples=400, level=0.95, seed=3)


def holdout(rows: int = ROWS) -> pd.DataFrame:
    """Labels and a slice column ``group`` (a, b, and missing values)."""
    generator = np.random.default_rng(0)
    group = generator.choice(np.array(["a", "b", None], dtype=object), rows, p=[0.5, 0.3, 0.2])
    return pd.DataFrame({LABEL: (generator.random(rows) < 0.3).astype(int), "group": group})


def predictions(labels: np.ndarray, noise: float, seed: int) -> Predictions:
    """Scores that rank positives higher, less well the larger ``noise``; rounded to 0.01."""
    generator = np.random.default_rng(seed)
    raw = 0.3 + 0.25 * (labels - 0.3) + generator.normal(0, noise, len(labels))
    return Predictions(Task.BINARY, np.clip(raw, 0.01, 0.99).round(2), threshold=0.35)


def scored(frame: pd.DataFrame, model: Predictions) -> tuple[dict[str, Any], Predictions]:
    """A model's numbers as the gate records them, with its scores."""
    labels = frame[LABEL].to_numpy()
    summary = {
        "metrics": score(labels, model),
        "slices": by_slice(frame, labels, model, ["group"], 500),
    }
    return summary, model


def test_a_resample_scores_every_metric_as_the_rows_it_drew() -> None:
    """A resample is a row of draw counts; each metric weighted by them is the pipeline's metric
    of the drawn rows, repeated rows and tied scores included, on all rows and on a slice."""
    frame = holdout()
    labels = frame[LABEL].to_numpy()
    model = predictions(labels, 0.2, seed=1)
    counts = next(bootstrap.resamples(ROWS, SETTINGS))[:3]
    assert set(np.unique(counts)) > {0.0, 1.0, 2.0}
    everything, group_b = np.arange(ROWS), np.flatnonzero(frame["group"] == "b")
    for name in METRICS:
        for rows in (everything, group_b):
            values = bootstrap.metric(name, labels, model, rows)(counts)
            for weights, value in zip(counts, values, strict=True):
                drawn = np.repeat(rows, weights[rows].astype(int))
                expected = score(labels[drawn], model.rows(drawn))[name]
                assert value == pytest.approx(expected, abs=1e-6), name
        whole = bootstrap.metric(name, labels, model, everything)(np.ones((1, ROWS)))
        assert whole[0] == pytest.approx(score(labels, model)[name], abs=1e-6)


def test_resamples_come_in_bounded_blocks_the_same_for_the_same_seed() -> None:
    settings = EvidenceParams(resamples=2 * bootstrap.BLOCK + 7, seed=5)
    blocks = list(bootstrap.resamples(100, settings))
    assert [len(block) for block in blocks] == [bootstrap.BLOCK, bootstrap.BLOCK, 7]
    assert all((block.sum(axis=1) == 100).all() for block in blocks)
    again = np.vstack(list(bootstrap.resamples(100, settings)))
    assert np.array_equal(np.vstack(blocks), again)
    other = np.vstack(list(bootstrap.resamples(100, settings.model_copy(update={"seed": 6}))))
    assert not np.array_equal(again, other)


def test_the_evidence_is_the_same_bytes_for_the_same_seed() -> None:
    frame = holdout()
    labels = frame[LABEL].to_numpy()
    candidate = scored(frame, predictions(labels, 0.2, seed=1))
    champion = scored(frame, predictions(labels, 0.2, seed=2))
    rules = GateParams(min_slice_rows=500, evidence=SETTINGS)
    first = bootstrap.evidence(frame, candidate, champion, rules)
    assert json.dumps(first) == json.dumps(bootstrap.evidence(frame, candidate, champion, rules))
    assert set(first) == {"level", "resamples", "seed", "primary", "slices"}
    assert set(first["primary"]) == {"metric", "candidate", "champion", "difference", "low", "high"}
    assert [(item["column"], item["value"], item["rows"]) for item in first["slices"]] == [
        ("group", value, int((frame["group"].fillna("(missing)") == value).sum()))
        for value in ("(missing)", "a", "b")
    ]
    reseeded = rules.model_copy(update={"evidence": SETTINGS.model_copy(update={"seed": 4})})
    other = bootstrap.evidence(frame, candidate, champion, reseeded)
    assert other["primary"]["difference"] == first["primary"]["difference"]
    assert other["primary"]["low"] != first["primary"]["low"]


def test_the_same_scores_differ_by_nothing_and_a_better_model_is_shown_better() -> None:
    frame = holdout()
    labels = frame[LABEL].to_numpy()
    subsets = [np.arange(ROWS)]
    model = predictions(labels, 0.2, seed=1)
    assert bootstrap.intervals("roc_auc", labels, model, model, subsets, SETTINGS) == [(0.0, 0.0)]

    sharper, blurred = predictions(labels, 0.15, seed=1), predictions(labels, 0.25, seed=2)
    [(low, high)] = bootstrap.intervals("roc_auc", labels, sharper, blurred, subsets, SETTINGS)
    assert 0 < low < high
    # Lower is better for log loss: the gain is still positive for the better model.
    [(low, high)] = bootstrap.intervals(
        "log_loss", labels, sharper, blurred, subsets, SETTINGS, lower_is_better=True
    )
    assert 0 < low < high
    [(low, high)] = bootstrap.intervals("roc_auc", labels, blurred, sharper, subsets, SETTINGS)
    assert low < high < 0


def test_wider_intervals_on_fewer_rows() -> None:
    """A slice's interval is wider than the whole holdout's: the rules judge each on its own."""
    frame = holdout()
    labels = frame[LABEL].to_numpy()
    ours, theirs = predictions(labels, 0.2, seed=1), predictions(labels, 0.2, seed=2)
    subsets = [np.arange(ROWS), np.flatnonzero(frame["group"] == "b")]
    (low, high), (slice_low, slice_high) = bootstrap.intervals(
        "roc_auc", labels, ours, theirs, subsets, SETTINGS
    )
    assert slice_high - slice_low > high - low > 0


RULES = GateParams(floors={"roc_auc": 0.6}, min_lower_bound=-0.005, slice_min_upper_bound=-0.03)


def record(difference: float, low: float, high: float, slice_high: float = 0.0) -> dict[str, Any]:
    """A gate record's numbers: the interval bounds are what the rules read."""
    metrics = {"roc_auc": 0.75}
    candidate = {
        "metrics": {"roc_auc": 0.75 + difference},
        "slices": {"group": {"a": metrics, "b": metrics, "c": {"roc_auc": float("nan")}}},
        "p99_single_row_ms": 1.0,
        "model_size_bytes": 1000,
    }
    champion = {
        "version": "v1.0.0",
        "model_md5": "c" * 32,
        "metrics": metrics,
        "slices": {"group": {"a": metrics, "b": metrics, "c": metrics, "d": metrics}},
    }
    compared = {"metric": "roc_auc", "difference": difference, "low": low, "high": high}
    evidence = {
        "level": 0.95,
        "resamples": 1000,
        "seed": 0,
        "primary": {**compared, "candidate": 0.75 + difference, "champion": 0.75},
        "slices": [
            {**compared, "column": "group", "value": "a", "rows": 1500, "high": 0.01},
            {**compared, "column": "group", "value": "b", "rows": 1200, "high": slice_high},
        ],
    }
    return {"candidate": candidate, "champion": champion, "evidence": evidence}


def verdict(numbers: dict[str, Any]) -> dict[str, bool]:
    rules = decide(RULES, numbers["candidate"], numbers["champion"], numbers["evidence"])
    return {rule.name: rule.passed for rule in rules}


def test_the_rules_read_the_bounds_not_the_difference() -> None:
    # Better on the holdout, but possibly worse by more than the allowance: rejected.
    assert not verdict(record(0.004, -0.006, 0.014))["lower bound roc_auc vs champion"]
    # Worse on the holdout by noise, surely not by more than the allowance: kept.
    assert verdict(record(-0.001, -0.0049, 0.003))["lower bound roc_auc vs champion"]
    # A slice fails only when its whole interval lies beyond the slice allowance.
    assert verdict(record(0.0, -0.002, 0.002, slice_high=-0.029)) == {
        "floor roc_auc": True,
        "budget p99 single-row ms": True,
        "budget model size bytes": True,
        "lower bound roc_auc vs champion": True,
        "slice group=a roc_auc upper bound": True,
        "slice group=b roc_auc upper bound": True,
    }
    assert not verdict(record(0.0, -0.002, 0.002, slice_high=-0.031))[
        "slice group=b roc_auc upper bound"
    ]


def test_a_record_missing_its_evidence_cannot_be_decided() -> None:
    """The registry re-derives a committed verdict from the record: evidence cut out of it (a
    judged slice's interval, or all of it) leaves nothing to derive from."""
    numbers = record(0.0, -0.002, 0.002)
    numbers["evidence"]["slices"] = numbers["evidence"]["slices"][:1]
    with pytest.raises(KeyError):
        verdict(numbers)
    with pytest.raises(ValueError, match="needs its evidence"):
        verdict({**numbers, "evidence": None})
    alone = decide(RULES, numbers["candidate"], None, None)
    assert [rule.name for rule in alone][-1] == "budget model size bytes"


def test_the_page_shows_every_interval() -> None:
    numbers = record(0.0012, -0.0021, 0.0044, slice_high=-0.031)
    rules = decide(RULES, numbers["candidate"], numbers["champion"], numbers["evidence"])
    page = gate.markdown(
        {
            **numbers,
            "verdict": "reject",
            "rules": [vars(rule) for rule in rules],
            "candidate": {**numbers["candidate"], "model_md5": "a" * 32},
            "holdout_rows": 27075,
            "data": {"md5": "d" * 32},
        }
    )
    assert "95% intervals from 1,000 paired bootstrap resamples" in page
    assert "| all | 27,075 | +0.0012 | -0.0021 | +0.0044 |" in page
    assert "| group=b | 1,200 | +0.0012 | -0.0021 | -0.0310 |" in page
    assert "| slice group=b roc_auc upper bound | -0.0310 | -0.0300 |" in page
