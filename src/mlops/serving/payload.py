"""Request bodies generated from the model's features and the data contract (``schema.yaml``).

Each feature becomes a required field with the contract's type, range, allowed values and
pattern, so a bad row is refused with a 422 naming the field and the problem instead of
reaching the model. Features the contract does not describe (derived ones) are finite numbers.
A category arrives typed as the contract declares it and leaves validation as its text
(``mlops.columns.category_value``), the form the model was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    WithJsonSchema,
    create_model,
)

from mlops.columns import category_value
from mlops.schema import column_contracts
from mlops.task import Task

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
CATEGORICAL, NUMERIC, CONTEXT = "categorical", "numeric", "context"
REQUEST_ID_LENGTH = 128


def _category(spec: dict[str, Any], dtype: str) -> Any:
    """A category checked as the contract types it (an integer code is an integer), then kept
    as its text, the form the model was trained on; the API schema shows the contract's type."""
    base: Any = {"int64": StrictInt, "float64": float}.get(dtype, str)
    if "isin" in spec:
        allowed = spec["isin"] if dtype in ("int64", "float64") else [str(v) for v in spec["isin"]]
        base = Literal[tuple(allowed)]
    typed = TypeAdapter(
        Annotated[base, Field(pattern=spec.get("regex")) if base is str else Field()]
    )

    def as_text(value: Any) -> Any:
        return category_value(typed.validate_python(value))

    return Annotated[str, BeforeValidator(as_text), WithJsonSchema(typed.json_schema())]


def _field(spec: dict[str, Any], kind: str, dtype: str, nullable: bool) -> tuple[Any, Any]:
    if kind == NUMERIC:  # a JSON number: "1400" and true are not numbers
        annotated: Any = Annotated[StrictFloat, Field(ge=spec.get("min"), le=spec.get("max"))]
    else:
        annotated = _category(spec, dtype)
    if kind == CONTEXT:  # not a model input: optional, kept for slices in monitoring
        return annotated | None, None
    if nullable or spec.get("nullable", False):
        annotated = annotated | None
    return annotated, ...


def client_value(value: Any, dtype: str) -> Any:
    """A stored value (a category as its text) as a request carries it: typed as the contract
    declares its column, ``None`` when missing. The inverse of what the request model does."""
    if pd.isna(value):
        return None
    if dtype == "int64":
        return int(float(value))
    return float(value) if dtype == "float64" else str(value)


def row_model(
    features: dict[str, list[str]],
    schema_file: Path | None,
    nullable: frozenset[str] = frozenset(),
    input_types: Mapping[str, str] | None = None,
    context: Mapping[str, str] | None = None,
) -> type[BaseModel]:
    """One input row: every feature required; ``null`` where the contract allows missing values
    or where training rows had them (``nullable``). Categories are typed as training saw them
    (``input_types``; an integer-coded category is an integer) and scored as their text.
    ``context`` columns (slices that are not inputs) may be sent too, to be collected."""
    contract = column_contracts(schema_file)
    types = input_types or {}
    kinds = [(CATEGORICAL, features["categorical"]), (NUMERIC, features["numeric"])]
    fields: dict[str, Any] = {
        name: _field(contract.get(name, {}), kind, types.get(name, "str"), name in nullable)
        for kind, names in kinds
        for name in names
    }
    fields |= {
        name: _field(contract.get(name, {}), CONTEXT, dtype, True)
        for name, dtype in (context or {}).items()
    }
    return create_model("Row", __config__=_STRICT, **fields)


def predict_request(row: type[BaseModel], max_rows: int) -> type[BaseModel]:
    """``{"records": [row, ...]}`` with 1 to ``max_rows`` rows."""
    records: Any = (Annotated[list[row], Field(min_length=1, max_length=max_rows)], ...)  # type: ignore[valid-type]
    return create_model("PredictRequest", __config__=_STRICT, records=records)


class BinaryPrediction(BaseModel):
    probability: float  # of the positive class
    label: int  # 1 from the model's threshold up


class MulticlassPrediction(BaseModel):
    probabilities: dict[str, float]  # each class's
    label: str  # the likeliest class


class RegressionPrediction(BaseModel):
    value: float


PREDICTIONS: dict[Task, type[BaseModel]] = {
    Task.BINARY: BinaryPrediction,
    Task.MULTICLASS: MulticlassPrediction,
    Task.REGRESSION: RegressionPrediction,
}


def predict_response(task: Task) -> type[BaseModel]:
    """``/predict``'s answer for a model of ``task``: its OpenAPI schema shows that task's rows."""
    return create_model(
        "PredictResponse",
        model_name=(str, ...),
        model_version=(str, ...),
        request_id=(str, ...),
        predictions=(list[PREDICTIONS[task]], ...),  # type: ignore[valid-type]
    )


# The true label as a client knows it: 0 or 1 (JSON false is not a label), a class (text, or
# the integer of an integer-coded class), a number.
_LABELS: dict[Task, Any] = {
    Task.BINARY: Annotated[StrictInt, Field(ge=0, le=1)],
    Task.MULTICLASS: Annotated[StrictStr, Field(min_length=1, max_length=200)] | StrictInt,
    Task.REGRESSION: Annotated[StrictFloat, Field(allow_inf_nan=False)] | StrictInt,
}


def feedback(task: Task) -> type[BaseModel]:
    """The true label of a scored row, sent when it becomes known."""
    return create_model(
        "Feedback",
        __config__=_STRICT,
        request_id=(Annotated[str, Field(min_length=1, max_length=REQUEST_ID_LENGTH)], ...),
        row=(Annotated[StrictInt, Field(ge=0)], 0),
        label=(_LABELS[task], ...),
    )


class InferInput(BaseModel):
    """One tensor of an Open Inference Protocol request: here, one feature column."""

    name: str
    shape: list[int]
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] | None = None


class InferRequest(BaseModel):
    # Copied into every collected row: as bounded as X-Request-ID.
    id: Annotated[str, Field(min_length=1, max_length=REQUEST_ID_LENGTH)] | None = None
    parameters: dict[str, Any] | None = None
    inputs: Annotated[list[InferInput], Field(min_length=1)]
    outputs: list[dict[str, Any]] | None = None
