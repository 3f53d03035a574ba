"""Problem shapes by configuration: label rules, splits, typed categories, the serving check.

Everything here runs on small synthetic projects written by the tests, never on the
repository's own params.yaml, schema.yaml or data.
"""

from __future__ import annotations

from contextlib import chdir
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from threadpoolctl import threadpool_limits

from mlops import columns
from mlops.columns import category_text, category_value
from mlops.config import MonitorParams, Params, SplitParams, TargetParams, load_params
from mlops.data import featurize, validate
from mlops.data.split import SplitError, split
from mlops.data.target import LabelError, label
from mlops.errors import MlopsError
from mlops.monitoring import monitor
from mlops.pipeline import train
from mlops.serving import payload, serving_check
from mlops.task import Task

ROWS = 1500


def test_a_category_has_one_text_whatever_type_it_arrives_in() -> None:
    assert category_value(7) == category_value(7.0) == category_value("7") == "7"
    assert category_value(7.5) == "7.5"
    assert category_value(None) is None
    assert category_value(float("nan")) is None
    column = pd.Series([3, None, 4], dtype="Int64")
    assert category_text(column).tolist() == ["3", None, "4"]
    assert category_text(pd.Series([3.0, np.nan])).tolist() == ["3", None]
    assert category_text(pd.Series(["a", None], dtype="str")).tolist() == ["a", None]


@pytest.mark.parametrize(
    ("target", "values", "expected"),
    [
        ({"column": "t", "threshold": 15}, [10.0, 20.0, 15.0], [0, 1, 0]),
        ({"column": "t", "positive": "YES"}, ["YES", "NO", "YES"], [1, 0, 1]),
        ({"column": "t", "positive": 3}, [3, 1, 2], [1, 0, 0]),
        ({"column": "t"}, [0, 1, 1], [0, 1, 1]),
        ({"column": "t"}, [True, False, True], [1, 0, 1]),
    ],
)
def test_the_label_rule_is_a_setting(target: dict, values: list, expected: list) -> None:
    rule = TargetParams.model_validate(target)
    assert label(pd.Series(values), rule).astype(int).tolist() == expected


@pytest.mark.parametrize(
    ("target", "values", "message"),
    [
        ({"column": "t", "threshold": 0}, ["YES", "NO"], "set features.target.positive"),
        ({"column": "t", "positive": True}, ["Yes", "No"], 'quote the value, e.g. positive: "Yes"'),
        ({"column": "t", "positive": "Y"}, ["YES", "NO"], "no row of 't' equals 'Y'"),
        ({"column": "t"}, ["YES", "NO"], "must hold 0/1 or true/false"),
    ],
)
def test_a_target_the_rule_cannot_read_is_a_clear_error(
    target: dict, values: list, message: str
) -> None:
    with pytest.raises(LabelError, match=message):
        label(pd.Series(values), TargetParams.model_validate(target))


def test_threshold_and_positive_together_are_refused() -> None:
    with pytest.raises(ValueError, match="threshold or positive, not both"):
        TargetParams(column="t", threshold=1, positive="a")


def _frame(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "district": rng.integers(1, 9, rows),
            "x": rng.normal(size=rows),
            "shop": rng.integers(0, 60, rows),
            "label": (rng.random(rows) < 0.3).astype("int8"),
        }
    )


def test_a_random_split_is_stratified_and_repeatable() -> None:
    frame = _frame()
    settings = SplitParams(method="random", holdout_share=0.2, validation_share=0.1, seed=3)
    parts = split(frame, settings, None, "label")
    again = split(frame, settings, None, "label")
    assert all(parts[name].equals(again[name]) for name in parts)
    assert sum(map(len, parts.values())) == len(frame)
    assert len(parts["holdout"]) == pytest.approx(0.2 * len(frame), abs=1)
    rate = frame["label"].mean()
    assert all(part["label"].mean() == pytest.approx(rate, abs=0.02) for part in parts.values())


def test_a_group_split_never_puts_one_group_in_two_parts() -> None:
    frame = _frame()
    frame.loc[frame.index[:40], "shop"] = None  # missing groups are one group too
    settings = SplitParams(method="group", group_column="shop", seed=3)
    parts = split(frame, settings, None, "label")
    groups = [set(part["shop"].astype(str)) for part in parts.values()]
    for one, other in ((0, 1), (0, 2), (1, 2)):
        assert not groups[one] & groups[other]
    assert sum(map(len, parts.values())) == len(frame)


def test_too_few_rows_for_the_split_is_a_clear_error() -> None:
    settings = SplitParams(method="random", holdout_share=0.2, validation_share=0.1)
    with pytest.raises(SplitError, match=r"split\.method random"):
        split(_frame(rows=4), settings, None, "label")


def test_a_time_split_without_a_time_column_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    document = _params(time_column=None)
    document["split"] = {"method": "time", "holdout_days": 3, "validation_days": 3}
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(MlopsError, match=r"data\.time_column is not set"):
        load_params(path)


def test_the_request_model_types_categories_as_training_saw_them() -> None:
    features_ = {"categorical": ["district", "kind"], "numeric": ["x"]}
    row = payload.row_model(
        features_,
        None,
        input_types={"district": "int64", "kind": "str", "x": "float64"},
        context={"region": "str"},
    )
    accepted = row.model_validate({"district": 7, "kind": "a", "x": 1.5}).model_dump()
    assert accepted == {"district": "7", "kind": "a", "x": 1.5, "region": None}
    with pytest.raises(ValueError, match="district"):
        row.model_validate({"district": "7", "kind": "a", "x": 1.5})
    with pytest.raises(ValueError, match="district"):
        row.model_validate({"district": True, "kind": "a", "x": 1.5})
    kept = row.model_validate({"district": 7, "kind": "a", "x": 1.0, "region": "north"})
    assert kept.model_dump()["region"] == "north"


def test_monitoring_that_judged_nothing_says_so() -> None:
    settings = MonitorParams()
    assert monitor.decide([], settings)["status"] == monitor.NO_DATA
    small = [{"window": "w0", "status": monitor.TOO_FEW_ROWS}]
    assert monitor.decide(small, settings)["status"] == monitor.NO_DATA


# A small project with an integer-coded category, a text target and no time column.
SCHEMA = {
    "tables": {
        "visits": {
            "columns": {
                "district": {"dtype": "int64", "min": 1, "max": 8},
                "kind": {"dtype": "str", "isin": ["a", "b", "c"]},
                "x": {"dtype": "float64"},
                "outcome": {"dtype": "str", "isin": ["YES", "NO"]},
                "level": {"dtype": "int64", "min": 1, "max": 3},
                "amount": {"dtype": "float64"},
                "region": {"dtype": "str", "nullable": True},
            }
        }
    }
}


# The target of each task: a text yes/no, three integer-coded levels, an amount.
TARGETS = {
    Task.BINARY: {"column": "outcome", "positive": "YES"},
    Task.MULTICLASS: {"column": "level"},
    Task.REGRESSION: {"column": "amount"},
}


def _params(
    time_column: str | None = None,
    estimator: str = "hist_gradient_boosting",
    task: Task = Task.BINARY,
) -> dict:
    return {
        "task": str(task),
        "data": {"table": "visits", "time_column": time_column, "source": None},
        "features": {
            "target": TARGETS[task],
            "categorical": ["district", "kind"],
            "numeric": ["x"],
        },
        "split": {"method": "random", "holdout_share": 0.25, "validation_share": 0.15},
        "train": {
            "estimator": estimator,
            "hist_gradient_boosting": {"max_iter": 30},
            "logistic_regression": {"max_iter": 500},
        },
        "evaluate": {"slices": ["kind", "region"], "min_slice_rows": 20},
    }


def _visits(rows: int = ROWS, seed: int = 1) -> pd.DataFrame:
    """The district matters a lot: a model that sees it as unknown scores very differently."""
    rng = np.random.default_rng(seed)
    district = rng.integers(1, 9, rows)
    kind = rng.choice(["a", "b", "c"], rows)
    x = rng.normal(size=rows)
    odds = np.where(district <= 3, 2.0, -2.0) + 0.5 * x
    outcome = np.where(rng.random(rows) < 1 / (1 + np.exp(-odds)), "YES", "NO")
    noisy = odds + rng.normal(size=rows)
    level = np.digitize(noisy, np.quantile(noisy, [1 / 3, 2 / 3])) + 1
    region = rng.choice(["north", "south", None], rows)
    return pd.DataFrame(
        {
            "district": district,
            "kind": kind,
            "x": x,
            "outcome": outcome,
            "level": level,
            "amount": 10 + 3 * noisy,
            "region": region,
        }
    )


def _project(folder: Path, estimator: str, task: Task = Task.BINARY) -> Params:
    """Validate, featurize and train the small project in ``folder``; returns its params."""
    folder.mkdir(parents=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(_params(estimator=estimator, task=task)))
    (folder / "schema.yaml").write_text(yaml.safe_dump(SCHEMA))
    (folder / "data" / "visits").mkdir(parents=True)
    _visits().to_csv(folder / "data" / "visits" / "visits.csv", index=False)
    params = load_params(folder / "params.yaml")
    with chdir(folder), threadpool_limits(1):
        validate.run(params, Path("schema.yaml"))
        featurize.run(params)
        train.run(params, Path("schema.yaml"))
    return params


@pytest.fixture(
    scope="module",
    params=[
        (Task.BINARY, "hist_gradient_boosting"),
        (Task.BINARY, "logistic_regression"),
        (Task.MULTICLASS, "hist_gradient_boosting"),
        (Task.MULTICLASS, "logistic_regression"),
        (Task.REGRESSION, "hist_gradient_boosting"),
        (Task.REGRESSION, "ridge"),
    ],
    ids=lambda pair: "-".join(map(str, pair)),
)
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    task, estimator = request.param
    folder = tmp_path_factory.mktemp("visits") / f"{task}-{estimator}"
    _project(folder, estimator, task)
    return folder


def _check(project: Path) -> dict[str, Any]:
    holdout = pd.read_parquet(project / featurize.part_path("holdout"))
    return serving_check.check(project / "model", holdout, project / "schema.yaml")


def test_served_scores_equal_evaluated_scores_for_every_estimator(project: Path) -> None:
    result = _check(project)
    assert result["passed"], result
    assert result["largest_difference"] <= serving_check.TOLERANCE
    assert result["rows"] > 300
    assert result["fast_path"] == project.name.endswith("hist_gradient_boosting")


def test_the_check_catches_an_integer_category_typed_as_something_else(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without one text per category (the skew forks hit), the service sees unknown districts."""
    monkeypatch.setattr(payload, "category_value", lambda value: value)
    monkeypatch.setattr(columns, "category_text", lambda column: column.astype(object))
    with pytest.raises(serving_check.ServingSkewError, match="district"):
        _check(project)


def test_the_model_records_the_contract_types_and_the_context(project: Path) -> None:
    metadata = (project / "model" / "model.json").read_text()
    assert '"district": "int64"' in metadata
    assert '"region": "str"' in metadata
    rules = {
        "binary": "outcome == 'YES'",
        "multiclass": "level (multiclass)",
        "regression": "amount (regression)",
    }
    assert f'"label": "{rules[project.name.split("-")[0]]}"' in metadata
