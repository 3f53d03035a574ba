"""A registered model as a serving source: the version holding a stage, fetched and checked
against its registration at every load, so a reload follows a promotion or a rollback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops import artifact
from mlops.errors import MlopsError
from mlops.registry import versions
from mlops.serving.servable import ModelLocation


@dataclass(frozen=True)
class RegistrySource:
    """A registered version (``version``), or the version holding ``stage`` at each load."""

    version: str | None
    stage: str | None
    downloads: Path  # fetched versions are kept here, one folder each

    def resolve(self) -> ModelLocation:
        version = self.version or versions.current(self.stage or versions.production_stage())
        if version is None:
            raise MlopsError(f"no version holds {self.stage or versions.production_stage()}")
        folder = self.downloads / version
        if (folder / artifact.MODEL_FILE).exists():
            versions.check_folder(version, folder)  # at every start and reload, not only fetches
        else:
            versions.fetch(version, self.downloads)  # checks what it fetched
        return ModelLocation(folder, versions.model_entry().name, version)
