"""``mlops deploy pin``: point a kustomize overlay at a model version and image tag.

Deploying is a commit that changes an overlay (GitOps): a controller (Argo CD, Flux) or
``kubectl apply -k`` applies it. Only the pinned values change; the files' comments stay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlops.errors import MlopsError
from mlops.tables import write_text

OVERLAYS = Path("deploy/k8s/overlays")
IMAGE_NAME = "model-service"
MODEL_PATCH = "model-version.yaml"


def _rewrite(path: Path, change: Any) -> None:
    """Apply ``change`` to the file's document and write it back under its leading comments."""
    text = path.read_text()
    comments = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    document = yaml.safe_load(text)
    change(document)
    write_text(path, comments + yaml.safe_dump(document, sort_keys=False))


def _pin_image(tag: str) -> Any:
    def change(document: dict[str, Any]) -> None:
        image = next((i for i in document.get("images", []) if i["name"] == IMAGE_NAME), None)
        if image is None:
            raise MlopsError(f"the overlay's kustomization has no image {IMAGE_NAME!r}")
        image["newTag"] = tag

    return change


def _pin_model(version: str, sha256: str | None) -> Any:
    def change(document: dict[str, Any]) -> None:
        container = document["spec"]["template"]["spec"]["containers"][0]
        env = {item["name"]: item for item in container["env"]}
        env["MLOPS_MODEL_VERSION"]["value"] = version
        if "MLOPS_MODEL_SHA256" in env:
            if sha256 is None:
                raise MlopsError("this overlay pins the model's sha256: pass --sha256")
            env["MLOPS_MODEL_SHA256"]["value"] = sha256
        for mount in container.get("volumeMounts", []):
            if mount["name"] == "model":
                mount["subPath"] = version

    return change


def pin(overlay: str, version: str, image_tag: str, sha256: str | None = None) -> Path:
    """Set the overlay's image tag and model version (and sha256 where it is checked)."""
    folder = OVERLAYS / overlay
    if not folder.is_dir():
        raise MlopsError(f"no overlay {folder}")
    _rewrite(folder / "kustomization.yaml", _pin_image(image_tag))
    _rewrite(folder / MODEL_PATCH, _pin_model(version, sha256))
    return folder
