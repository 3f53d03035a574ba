"""``mlops deploy pin``: point a kustomize overlay at a model version and its image.

Deploying is a commit that changes an overlay (GitOps): a controller (Argo CD, Flux) or
``kubectl apply -k`` applies it. The model is baked into the image, so an overlay pins the
image by tag and digest and the model by version and sha256 (the service refuses other bytes).

The pin is a round-trip edit (ruamel.yaml): comments, key order, flow or block style and quoting
stay as the team wrote them, so the commit's diff is exactly the deployment, a line per value.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mlops.errors import MlopsError
from mlops.tables import write_text

OVERLAYS = Path("deploy/k8s/overlays")
IMAGE_NAME = "model-service"
MODEL_PATCH = "model-version.yaml"
IMAGE_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MODEL_SHA256 = re.compile(r"[0-9a-f]{64}")
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # the OCI distribution spec's


def _yaml() -> YAML:
    """A round-trip reader and writer in the overlays' style (sequences indented under keys)."""
    editor = YAML()
    editor.preserve_quotes = True
    editor.width = 4096  # never fold a long line the team wrote on one
    editor.indent(mapping=2, sequence=4, offset=2)
    return editor


def _load(path: Path) -> Any:
    try:
        document = _yaml().load(path.read_text())
    except YAMLError as error:
        raise MlopsError(f"{path} is not one YAML document: {error}") from None
    if document is None:
        raise MlopsError(f"{path} is empty")
    return document


def _dump(document: Any) -> str:
    text = io.StringIO()
    _yaml().dump(document, text)
    return text.getvalue()


def _named(items: Any, name: str) -> Any:
    return next((item for item in items or [] if item.get("name") == name), None)


def _pin_image(document: Any, tag: str, digest: str | None) -> None:
    image = _named(document.get("images"), IMAGE_NAME)
    if image is None:
        raise MlopsError(f"the overlay's kustomization has no image {IMAGE_NAME!r}")
    if digest is None and "digest" in image:
        raise MlopsError("this overlay pins its image by digest: pass --image-digest")
    image["newTag"] = tag
    if digest is not None:
        image["digest"] = digest


def _pin_model(document: Any, path: Path, version: str, sha256: str | None) -> None:
    try:
        container = document["spec"]["template"]["spec"]["containers"][0]
    except (KeyError, IndexError, TypeError):
        raise MlopsError(f"{path} patches no container") from None
    wanted = {"MLOPS_MODEL_VERSION": version}
    if _named(container.get("env"), "MLOPS_MODEL_SHA256") is not None:
        if sha256 is None:
            raise MlopsError("this overlay pins the model's sha256: pass --model (a model folder)")
        wanted["MLOPS_MODEL_SHA256"] = sha256
    for name, value in wanted.items():
        variable = _named(container.get("env"), name)
        if variable is None:
            raise MlopsError(f"{path} sets no {name}")
        variable["value"] = value


def pin(
    overlay: str,
    version: str,
    image_tag: str,
    sha256: str | None = None,
    image_digest: str | None = None,
) -> Path:
    """Set the overlay's image tag (and digest) and its model version (and sha256 where the
    overlay checks it). Both files change, or, on any error, neither."""
    folder = OVERLAYS / overlay
    if not folder.is_dir():
        raise MlopsError(f"no overlay {folder}")
    if not IMAGE_TAG.fullmatch(image_tag):
        raise MlopsError(f"not an image tag: {image_tag!r}")
    if image_digest is not None and not IMAGE_DIGEST.fullmatch(image_digest):
        raise MlopsError(f"not an image digest (sha256:<64 lowercase hex>): {image_digest!r}")
    if sha256 is not None and not MODEL_SHA256.fullmatch(sha256):
        raise MlopsError(f"not a model sha256 (64 lowercase hex): {sha256!r}")
    kustomization, patch = folder / "kustomization.yaml", folder / MODEL_PATCH
    image, model = _load(kustomization), _load(patch)
    _pin_image(image, image_tag, image_digest)
    _pin_model(model, patch, version, sha256)
    edited = {kustomization: _dump(image), patch: _dump(model)}  # both made before either written
    for path, text in edited.items():
        write_text(path, text)
    return folder
