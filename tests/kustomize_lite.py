"""Renders the kustomize subset ``deploy/k8s`` uses, offline (no kustomize binary ships on PyPI).

Supported: ``resources`` (files and kustomization folders), ``namespace``, ``labels`` (with
``includeSelectors``), ``images`` and ``patches`` given by ``path`` (strategic merge: maps merge,
lists of maps merge by ``mountPath`` or ``name``, other lists are replaced). Any other key fails
loudly, so a manifest never relies on a feature this renderer would silently skip.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

_KEYS = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}
_SELECTORS = {
    "Deployment": [("spec", "selector", "matchLabels"), ("spec", "template", "metadata", "labels")],
    "PodDisruptionBudget": [("spec", "selector", "matchLabels")],
    "Service": [("spec", "selector")],
}

Document = dict[str, Any]


def render(folder: Path) -> list[Document]:
    """The documents ``kustomize build folder`` would print, for the supported subset."""
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(spec) - _KEYS
    if unknown:
        raise ValueError(f"{folder}: kustomization keys this renderer does not support: {unknown}")
    documents: list[Document] = []
    for entry in spec.get("resources", []):
        path = folder / entry
        documents += render(path) if path.is_dir() else list(yaml.safe_load_all(path.read_text()))
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise ValueError(f"{folder}: only file patches are supported, got {patch}")
        for change in yaml.safe_load_all((folder / patch["path"]).read_text()):
            target = _find(documents, change["kind"], change["metadata"]["name"])
            documents[documents.index(target)] = _merge(target, change)
    for document in documents:
        _label(document, spec.get("labels", []))
        if "namespace" in spec:
            document["metadata"]["namespace"] = spec["namespace"]
        _retag(document, spec.get("images", []))
    return documents


def _find(documents: list[Document], kind: str, name: str) -> Document:
    for document in documents:
        if document["kind"] == kind and document["metadata"]["name"] == name:
            return document
    raise ValueError(f"a patch targets {kind}/{name}, which no resource defines")


def _merge(base: Any, change: Any) -> Any:
    if isinstance(base, dict) and isinstance(change, dict):
        merged = copy.deepcopy(base)
        for key, value in change.items():
            merged[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if (
        isinstance(base, list)
        and isinstance(change, list)
        and all(isinstance(item, dict) for item in [*base, *change])
    ):
        merged = copy.deepcopy(base)
        for item in change:
            key = "mountPath" if "mountPath" in item else "name"
            match = next((i for i, old in enumerate(merged) if old.get(key) == item.get(key)), None)
            if match is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[match] = _merge(merged[match], item)
        return merged
    return copy.deepcopy(change)


def _label(document: Document, labels: list[dict[str, Any]]) -> None:
    for entry in labels:
        pairs = entry["pairs"]
        document["metadata"].setdefault("labels", {}).update(pairs)
        if entry.get("includeSelectors", False):
            for path in _SELECTORS.get(document["kind"], []):
                node = document
                for key in path:
                    node = node.setdefault(key, {})
                node.update(pairs)


def _retag(document: Document, images: list[dict[str, str]]) -> None:
    containers = document.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    for container in containers:
        for image in images:
            if container["image"].split(":")[0].split("@")[0] == image["name"]:
                name = image.get("newName", image["name"])
                container["image"] = (
                    f"{name}@{image['digest']}"
                    if "digest" in image
                    else f"{name}:{image['newTag']}"
                )
