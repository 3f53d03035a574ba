"""Stage ``serving-check``: the service scores holdout rows exactly as ``evaluate`` scored them.

Training/serving skew is silent: a category typed as text by the request model but as an
integer at training, say, makes the encoder see unknown categories and the service answer
other predictions than the evaluated model, with no error anywhere. Here holdout rows are
sent as a client sends them (JSON, each value typed as the data contract declares it) through
the service's own request model and its loaded model (fast path included, both of its routes)
and compared with the pipeline's scores on the same rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from mlops.data.featurize import part_path
from mlops.errors import MlopsError
from mlops.paths import MODEL_DIR, SERVING_CHECK_JSON
from mlops.serving import payload, servable
from mlops.tables import write_json

TOLERANCE = 1e-9
BATCH_ROWS = 1000  # one request of many rows: the service's matrix route
SINGLE_ROWS = 200  # rows also sent one per request: the route of one-row calls


class ServingSkewError(MlopsError):
    """The service would answer other scores than the evaluated model, or refuse its rows."""


def client_records(frame: pd.DataFrame, model: servable.ServedModel) -> list[dict[str, Any]]:
    """Rows as a client sends them: JSON numbers (every digit kept), missing values as null,
    categories typed as the contract declares them (an integer code as an integer)."""
    kinds = dict.fromkeys(model.features["numeric"], "float64")
    kinds |= {name: model.input_types.get(name, "str") for name in model.features["categorical"]}
    client = payload.client_value
    columns = [[client(value, kind) for value in frame[k].tolist()] for k, kind in kinds.items()]
    return [dict(zip(kinds, values, strict=True)) for values in zip(*columns, strict=True)]


def served_scores(
    model: servable.ServedModel, row: type[Any], records: list[dict[str, Any]], rows_per_call: int
) -> np.ndarray:
    """Predictions of the records (``task.predict``'s form), validated and scored as the service
    does, ``rows_per_call`` at a time."""
    validated = []
    for index, record in enumerate(records):
        try:
            validated.append(row.model_validate(record).model_dump())
        except ValidationError as error:
            raise ServingSkewError(
                f"holdout row {index} is refused by the service's request model, though the "
                f"model was evaluated on it: {error}"
            ) from None
    return np.concatenate(
        [
            model.predict(validated[start : start + rows_per_call])
            for start in range(0, len(validated), rows_per_call)
        ]
    )


def check(model_dir: Path, holdout: pd.DataFrame, schema_file: Path | None) -> dict[str, Any]:
    """The largest difference between served and evaluated scores on ``holdout``."""
    model = servable.load(servable.FolderSource(model_dir))
    row = payload.row_model(
        model.features, schema_file, model.missing_in_training, model.input_types, model.context
    )
    evaluated = model.artifact.predictions(model.artifact.inputs(holdout)).values
    records = client_records(holdout, model)
    batched = served_scores(model, row, records, BATCH_ROWS)
    single = served_scores(model, row, records[:SINGLE_ROWS], 1)
    difference = max(
        float(np.abs(batched - evaluated).max(initial=0.0)),
        float(np.abs(single - evaluated[:SINGLE_ROWS]).max(initial=0.0)),
    )
    return {
        "rows": len(records),
        "single_rows": len(single),
        "largest_difference": difference,
        "tolerance": TOLERANCE,
        "fast_path": model.fast is not None,
        "passed": difference <= TOLERANCE,
    }


def run(schema_file: Path | None) -> dict[str, Any]:
    """Check the model in ``model/`` on the holdout; write the result, fail on skew."""
    result = check(MODEL_DIR, pd.read_parquet(part_path("holdout")), schema_file)
    write_json(SERVING_CHECK_JSON, result)
    if not result["passed"]:
        raise ServingSkewError(
            f"the service scores holdout rows differently from the evaluated model: largest "
            f"difference {result['largest_difference']:.3g} > {TOLERANCE:g} "
            f"(fast path {'on' if result['fast_path'] else 'off'}); see {SERVING_CHECK_JSON}"
        )
    return result
