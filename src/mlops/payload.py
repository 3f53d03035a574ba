"""Request bodies generated from the model's features and the data contract (``schema.yaml``).

Each feature becomes a required field with the contract's type, range, allowed values and
pattern, so a bad row is refused with a 422 naming the field and the problem instead of
reaching the model. Features the contract does not describe (derived ones) are finite numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from mlops.schema import column_contracts

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


def _field(spec: dict[str, Any], categorical: bool, nullable: bool) -> tuple[Any, Any]:
    if categorical:
        kind: Any = Literal[tuple(str(value) for value in spec["isin"])] if "isin" in spec else str
        field = Field(pattern=spec.get("regex"))
    else:
        kind = float
        field = Field(ge=spec.get("min"), le=spec.get("max"))
    if nullable or spec.get("nullable", False):
        kind = kind | None
    return Annotated[kind, field], ...


def row_model(
    features: dict[str, list[str]],
    schema_file: Path | None,
    nullable: frozenset[str] = frozenset(),
) -> type[BaseModel]:
    """One input row: every feature required; ``null`` where the contract allows missing values
    or where training rows had them (``nullable``)."""
    contract = column_contracts(schema_file)
    fields = {
        name: _field(contract.get(name, {}), categorical, name in nullable)
        for categorical, names in ((True, features["categorical"]), (False, features["numeric"]))
        for name in names
    }
    return create_model("Row", __config__=_STRICT, **fields)


def predict_request(row: type[BaseModel], max_rows: int) -> type[BaseModel]:
    """``{"records": [row, ...]}`` with 1 to ``max_rows`` rows."""
    return create_model(
        "PredictRequest",
        __config__=_STRICT,
        records=(Annotated[list[row], Field(min_length=1, max_length=max_rows)], ...),  # type: ignore[valid-type]
    )


class Prediction(BaseModel):
    probability: float
    label: int


class PredictResponse(BaseModel):
    model_name: str
    model_version: str
    request_id: str
    predictions: list[Prediction]


class Feedback(BaseModel):
    """The true label of a scored row, sent when it becomes known."""

    model_config = _STRICT
    request_id: Annotated[str, Field(min_length=1, max_length=128)]
    row: Annotated[int, Field(ge=0)] = 0
    label: Literal[0, 1]


class InferInput(BaseModel):
    """One tensor of an Open Inference Protocol request: here, one feature column."""

    name: str
    shape: list[int]
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] | None = None


class InferRequest(BaseModel):
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: Annotated[list[InferInput], Field(min_length=1)]
    outputs: list[dict[str, Any]] | None = None
