"""Typed view of ``params.yaml``: a typo in a knob fails at load time, not mid-pipeline."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlops import yamlio
from mlops.errors import MlopsError
from mlops.task import METRICS, PRIMARY, Task

PARAMS_FILE = Path("params.yaml")
SCHEMA_FILE = Path("schema.yaml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(_Section):
    dir: Path = Path("data")
    table: str
    time_column: str | None = None  # None: rows have no time; split by random or group
    source: str | None = None
    initial_months: list[str] = Field(default_factory=list)


class ValidateParams(_Section):
    outlier_iqr_k: float = 3.0
    sample_rows: int = 5


class TargetParams(_Section):
    """The label: ``column > threshold``, ``column == positive``, or the column's own 0/1."""

    column: str
    threshold: float | None = None
    positive: str | int | float | bool | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> TargetParams:
        if self.threshold is not None and self.positive is not None:
            raise ValueError("features.target: set threshold or positive, not both")
        return self

    def describe(self) -> str:
        """The label rule in words, for metadata, model cards and reports."""
        if self.threshold is not None:
            return f"{self.column} > {self.threshold:g}"
        if self.positive is not None:
            return f"{self.column} == {self.positive!r}"
        return f"{self.column} (0/1)"


class LookupParams(_Section):
    keys: list[str]
    columns: list[str]


class FeatureParams(_Section):
    target: TargetParams
    local_timezone: str = "UTC"
    datetime_parts: dict[str, tuple[str, str]] = Field(default_factory=dict)
    lookups: dict[str, LookupParams] = Field(default_factory=dict)
    categorical: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)

    @field_validator("numeric")
    @classmethod
    def _unique_feature_names(cls, numeric: list[str], info: Any) -> list[str]:
        names = [*info.data.get("categorical", []), *numeric]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"feature names must be unique; repeated: {repeated}")
        return numeric

    @property
    def names(self) -> list[str]:
        """All model inputs, categorical first: the order the model sees them in."""
        return [*self.categorical, *self.numeric]


class SplitParams(_Section):
    """How rows become train, validation and holdout parts.

    ``time``: the holdout is the most recent ``holdout_days`` (needs ``data.time_column``);
    ``random``: shares of rows, stratified by the label; ``group``: shares of the values of
    ``group_column``, so no group is in two parts.
    """

    method: Literal["time", "random", "group"] = "time"
    holdout_days: float | None = Field(default=None, gt=0)
    validation_days: float | None = Field(default=None, gt=0)
    holdout_share: float = Field(default=0.2, gt=0, lt=1)
    validation_share: float = Field(default=0.1, gt=0, lt=1)
    group_column: str | None = None
    seed: int = 42

    @model_validator(mode="after")
    def _settings_of_the_method(self) -> SplitParams:
        if self.method == "time" and (self.holdout_days is None or self.validation_days is None):
            raise ValueError("split.method time needs split.holdout_days and validation_days")
        if self.method == "group" and not self.group_column:
            raise ValueError("split.method group needs split.group_column")
        if self.holdout_share + self.validation_share >= 1:
            raise ValueError("split.holdout_share + validation_share must leave rows to train on")
        return self


class SearchParams(_Section):
    enabled: bool = False
    n_candidates: int = 10
    cv_splits: int = 3
    time_budget_s: float = 300
    space: dict[str, list[Any]] = Field(default_factory=dict)


class TrainParams(_Section):
    estimator: Literal["hist_gradient_boosting", "logistic_regression", "ridge"]
    seed: int = 42
    threshold: Literal["max_f1"] | float = "max_f1"  # binary only
    hist_gradient_boosting: dict[str, Any] = Field(default_factory=dict)
    logistic_regression: dict[str, Any] = Field(default_factory=dict)
    ridge: dict[str, Any] = Field(default_factory=dict)
    search: SearchParams = SearchParams()

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters of the chosen estimator."""
        return dict(getattr(self, self.estimator))


class ImportanceParams(_Section):
    n_repeats: int = 3
    sample_rows: int = 5000


class EvaluateParams(_Section):
    slices: list[str] = Field(default_factory=list)
    min_slice_rows: int = 200
    curve_points: int = 200
    calibration_bins: int = 10
    importance: ImportanceParams = ImportanceParams()


class ProfileParams(_Section):
    single_row_calls: int = 300
    batch_repeats: int = 3


class EvidenceParams(_Section):
    """The paired bootstrap behind every comparison with the champion."""

    resamples: int = Field(default=1000, ge=100)
    level: float = Field(default=0.95, gt=0.5, lt=1.0)
    seed: int = 0


class GateParams(_Section):
    primary: str = PRIMARY[Task.BINARY]  # Params sets the task's own when params.yaml names none
    floors: dict[str, float] = Field(default_factory=dict)
    ceilings: dict[str, float] = Field(default_factory=dict)
    evidence: EvidenceParams = EvidenceParams()
    min_lower_bound: float = -0.005  # of the primary metric's gain over the champion
    slice_min_upper_bound: float = -0.03  # of each judged slice's gain
    min_slice_rows: int = 1000
    max_p99_single_row_ms: float = 50.0
    max_model_size_bytes: int = 100_000_000


class ModelCardParams(_Section):
    intended_use: str = ""
    limitations: list[str] = Field(default_factory=list)


DriftMethod = Literal["auto", "wasserstein", "jensenshannon", "psi", "ks", "chisquare", "z"]


class ColumnDriftParams(_Section):
    method: DriftMethod = "auto"
    threshold: float | None = None  # None: the method's default


class WindowQualityParams(_Section):
    max_missing_increase: float = 0.3
    max_unseen_share: float = 0.01
    max_violation_share: float = 0.0


class RetrainRuleParams(_Section):
    k: int = Field(default=2, ge=1)
    n: int = Field(default=3, ge=1)


class MonitorParams(_Section):
    window: str = "M"
    min_window_rows: int = 500
    ignore: list[str] = Field(default_factory=list)
    drift_share: float = 0.5
    method: DriftMethod = "auto"
    columns: dict[str, ColumnDriftParams] = Field(default_factory=dict)
    quality: WindowQualityParams = WindowQualityParams()
    retrain: RetrainRuleParams = RetrainRuleParams()


class GitOpsParams(_Section):
    # How far retraining goes on its own: alert (report only), propose (open a pull request),
    # auto (merge it when the gate passes; for low-risk uses).
    retrain: Literal["alert", "propose", "auto"] = "propose"
    issue_label: str = "model-monitoring"


class LifecycleParams(_Section):
    months: list[str] = Field(default_factory=list)  # replayed after data.initial_months
    every: int = Field(default=5, ge=1)  # every n-th row: first data version and traffic
    requests_per_second: float = Field(default=0.0, ge=0)  # traffic pace; 0: unthrottled
    approver: str = "release-manager"


class Params(_Section):
    task: Task = Task.BINARY
    data: DataParams
    validate_: ValidateParams = Field(default=ValidateParams(), alias="validate")
    features: FeatureParams
    split: SplitParams
    train: TrainParams
    evaluate: EvaluateParams = EvaluateParams()
    profile: ProfileParams = ProfileParams()
    gate: GateParams = GateParams()
    model_card: ModelCardParams = ModelCardParams()
    monitor: MonitorParams = MonitorParams()
    gitops: GitOpsParams = GitOpsParams()
    lifecycle: LifecycleParams = LifecycleParams()

    @model_validator(mode="before")
    @classmethod
    def _the_tasks_primary_metric(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("task", Task.BINARY) not in set(Task):
            return data  # the field's own validation says what is wrong
        gate = data.get("gate") or {}
        if "primary" in gate:
            return data
        return {**data, "gate": {**gate, "primary": PRIMARY[Task(data.get("task", Task.BINARY))]}}

    @model_validator(mode="after")
    def _metrics_of_the_task(self) -> Params:
        metrics = METRICS[self.task]
        named = {
            "gate.primary": [self.gate.primary],
            "gate.floors": list(self.gate.floors),
            "gate.ceilings": list(self.gate.ceilings),
        }
        for knob, names in named.items():
            unknown = [name for name in names if name not in metrics]
            if unknown:
                raise ValueError(
                    f"{knob} names {unknown}, not metrics of a {self.task} task: {sorted(metrics)}"
                )
        wrong_way = [n for n in self.gate.floors if not metrics[n].higher_is_better] + [
            n for n in self.gate.ceilings if metrics[n].higher_is_better
        ]
        if wrong_way:
            raise ValueError(
                f"{wrong_way}: a floor is for a metric where higher is better, a ceiling for "
                "one where lower is better"
            )
        target = self.features.target
        if self.task is not Task.BINARY and (
            target.threshold is not None or target.positive is not None
        ):
            raise ValueError(
                f"features.target: threshold and positive make a 0/1 label; a {self.task} task "
                "predicts the column's own values: remove them, or set task: binary"
            )
        return self

    @model_validator(mode="after")
    def _a_time_split_needs_time(self) -> Params:
        if self.split.method == "time" and self.data.time_column is None:
            raise ValueError(
                "split.method is time but data.time_column is not set: name the column that "
                "orders rows in time, or use split.method random or group"
            )
        return self

    def label_rule(self) -> str:
        """What the model predicts, in words, for metadata, model cards and reports."""
        if self.task is Task.BINARY:
            return self.features.target.describe()
        return f"{self.features.target.column} ({self.task})"

    @property
    def context(self) -> list[str]:
        """Slice columns that are not model inputs: served, collected and kept beside them."""
        return [name for name in self.evaluate.slices if name not in self.features.names]


def params_sha256(document: dict[str, Any]) -> str:
    """A fingerprint of parsed parameters: comments and key order do not change it."""
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and check ``params.yaml``; a bad knob is an error naming the file and the knob."""
    try:
        return Params.model_validate(yamlio.load(path.read_text()))
    except ValidationError as error:
        raise MlopsError(f"{path}: {error}") from None
