"""``mlops retrain-from-production``: labelled production rows become a new data version.

The rows of a period (by the time they happened) that got feedback, labelled as the label join
types labels (0/1 as sent, the class as text, the number), are checked against the production
table's contract, the same check the pipeline's ``validate`` stage runs, then added under
``data/production/`` with ``dvc add`` and committed on a new branch, ready for a pull request.
``data.dvc`` records where they came from: the log, the period, the label source.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mlops import dvc, git
from mlops.columns import LABEL
from mlops.config import Params
from mlops.data import datastore
from mlops.data.validate import load_schema
from mlops.errors import MlopsError
from mlops.monitoring import labels, logs
from mlops.schema import PRODUCTION_TABLE, PROVENANCE
from mlops.tables import read_csv


def labelled_rows(
    url: str, since: datetime, until: datetime, params: Params
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The period's labelled rows as the production table has them, and the join's counts."""
    joined, counts = labels.join(url)
    if joined.empty:
        raise MlopsError(f"no labelled rows under {url}: nothing collected got feedback")
    happened = logs.happened(joined)
    period = joined[(happened >= since) & (happened < until)].copy()
    if period.empty:
        raise MlopsError(f"no labelled rows happened in [{since:%Y-%m-%d}, {until:%Y-%m-%d})")
    missing = sorted(set(params.features.names) - set(period.columns))
    if missing:
        raise MlopsError(f"the collected rows lack features the model needs: {missing}")
    for name in params.context:  # slices sent beside the inputs; clients may have left them out
        if name not in period:
            period[name] = None
    time = [params.data.time_column] if params.data.time_column else []
    if time:
        period[params.data.time_column] = happened.loc[period.index]
    period["served_at"] = pd.to_datetime(period[logs.TIME], utc=True, format="ISO8601")
    columns = [*time, *params.features.names, *params.context, LABEL, *PROVENANCE]
    return period[columns].reset_index(drop=True), counts


def _check(rows: pd.DataFrame, params: Params, schema_file: Path) -> None:
    """The pipeline's own check of the production table, on the rows as they will be stored."""
    schema = load_schema(params, schema_file)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.csv"
        datastore.as_text(rows).to_csv(path, index=False, na_rep="NA")
        schema.validate(PRODUCTION_TABLE, read_csv(path), "production rows", 5)


def run(
    url: str,
    since: datetime,
    until: datetime,
    params: Params,
    schema_file: Path,
    branch: str | None = None,
    push: bool = False,
    commit: bool = True,
) -> dict[str, Any]:
    """Add the period's labelled rows as a data version on a new branch; returns a summary.

    Without ``commit`` the version is only recorded in the workspace (``dvc add``): a workflow
    then commits it with the retrained model in one pull request.
    """
    rows, counts = labelled_rows(url, since, until, params)
    _check(rows, params, schema_file)
    branch = branch or f"retrain/production-{since:%Y%m%d}-{until:%Y%m%d}"
    provenance = {
        "log": url,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "label_source": "feedback (mlops label-join)",
        "rows": len(rows),
        "model_versions": rows["model_version"].value_counts().sort_index().to_dict(),
        "added": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if commit:
        git.new_branch(branch)
    md5 = datastore.add_production(params, rows, provenance)
    data_file = str(datastore.dvc_file(params))
    if push:
        dvc.run("push", "--quiet", data_file)
    summary = {"data_md5": md5, **provenance, "join": counts}
    if not commit:
        return summary
    message = f"Data: {len(rows)} labelled production rows, {since:%Y-%m-%d} to {until:%Y-%m-%d}"
    summary |= {"branch": branch, "commit": git.commit_paths([data_file], message)}
    if push:
        git.push(branch)
    return summary
