"""Data-quality measurements that do not reject data: duplicates, missing values, outliers."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops.markdown import table as markdown_table


def drop_exact_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep the first of identical rows; a repeated record would count twice in training."""
    duplicated = frame.duplicated(keep="first")
    return frame.loc[~duplicated], int(duplicated.sum())


def missing_counts(frame: pd.DataFrame) -> dict[str, int]:
    return {str(column): int(count) for column, count in frame.isna().sum().items()}


def outliers(
    frame: pd.DataFrame, columns: list[str], iqr_k: float, where: pd.Series, sample_rows: int
) -> dict[str, dict[str, Any]]:
    """Values beyond ``iqr_k`` inter-quartile ranges of their column, with where to find some.

    ``where`` labels each row (file and row) so the report points at the raw data.
    """
    flagged: dict[str, dict[str, Any]] = {}
    for column in columns:
        values = frame[column]
        q1, q3 = values.quantile([0.25, 0.75])
        low, high = q1 - iqr_k * (q3 - q1), q3 + iqr_k * (q3 - q1)
        mask = (values < low) | (values > high)
        if q3 > q1 and mask.any():
            flagged[column] = {
                "count": int(mask.sum()),
                "bounds": [float(low), float(high)],
                "rows": where[mask].head(sample_rows).tolist(),
            }
    return flagged


def markdown(report: dict[str, Any]) -> str:
    """The data-quality report as a markdown page for people and pull requests."""
    lines = ["# Data quality", ""]
    for table, body in report["tables"].items():
        lines += [
            f"## {table}",
            "",
            f"{body['files']} files, {body['rows_in']} rows read, "
            f"{body['duplicates_removed']} exact duplicates removed, {body['rows_out']} rows kept.",
            "",
        ]
        rows = []
        for column, missing in body["missing"].items():
            outlier = body["outliers"].get(column, {})
            bounds = ", ".join(f"{bound:.4g}" for bound in outlier.get("bounds", []))
            rows.append(
                [
                    column,
                    missing,
                    outlier.get("count", 0),
                    bounds,
                    ", ".join(outlier.get("rows", [])),
                ]
            )
        header = ["column", "missing", "outliers", "outlier bounds", "example rows"]
        lines += [*markdown_table(header, rows, "lrrll"), ""]
    return "\n".join(lines)
