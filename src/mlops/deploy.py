"""``mlops deploy pin``: point a kustomize overlay at a model version and its image.

Deploying is a commit that changes an overlay (GitOps): a controller (Argo CD, Flux) or
``kubectl apply -k`` applies it. The model is baked into the image, so an overlay pins the
image by tag and digest and the model by version and sha256 (the service refuses other bytes).

The pin edits the files' text in place: PyYAML's composer gives each value's position, and only
those values are replaced (or, for a key not there yet, one line added). Comments, key order,
flow or block style and quoting elsewhere stay as the team wrote them, so the commit's diff is
exactly the deployment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from mlops.errors import MlopsError
from mlops.tables import write_text

OVERLAYS = Path("deploy/k8s/overlays")
IMAGE_NAME = "model-service"
MODEL_PATCH = "model-version.yaml"
IMAGE_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MODEL_SHA256 = re.compile(r"[0-9a-f]{64}")
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # the OCI distribution spec's


def _scalar(value: str) -> str:
    """``value`` as YAML text that reads back as that string in block and flow context alike:
    plain where it can be, else double-quoted (a JSON string is a YAML double-quoted scalar)."""
    plain = yaml.safe_dump({"k": value}, width=1 << 16)[len("k: ") :].rstrip("\n")
    try:
        reads_back = "\n" not in plain and all(
            yaml.safe_load(context.format(plain)) == {"k": value}
            for context in ("k: {}", "{{k: {}}}")
        )
    except yaml.YAMLError:
        reads_back = False
    return plain if reads_back else json.dumps(value)


def _entry(mapping: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(mapping, yaml.MappingNode):
        raise MlopsError(f"expected a mapping at line {mapping.start_mark.line + 1}")
    return next(((name, value) for name, value in mapping.value if name.value == key), None)


def _get(mapping: yaml.Node, key: str) -> yaml.Node | None:
    entry = _entry(mapping, key)
    return entry[1] if entry else None


def _items(sequence: yaml.Node | None) -> list[yaml.Node]:
    return list(sequence.value) if isinstance(sequence, yaml.SequenceNode) else []


def _named(sequence: yaml.Node | None, name: str) -> yaml.Node | None:
    return next((item for item in _items(sequence) if _text(_get(item, "name")) == name), None)


def _text(node: yaml.Node | None) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


class _Document:
    """A YAML file's text and node tree, and the text edits that set values in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.text = path.read_text()
        self.root = _compose(self.text, path)
        self.edits: list[tuple[int, int, str]] = []

    def set(self, mapping: yaml.Node, key: str, value: str) -> None:
        """Set ``key`` of ``mapping``: its value's text replaced, else one entry added after
        the mapping's last (a new line at its indent, or ``, key: value`` in a flow mapping)."""
        where = f"{self.path}:{mapping.start_mark.line + 1}"
        text = _scalar(value)
        entry = _entry(mapping, key)
        if entry is not None:
            name, node = entry
            if not isinstance(node, yaml.ScalarNode):
                raise MlopsError(f"{where}: {key} is not a single value")
            if node.start_mark.index == node.end_mark.index:  # `key:` with nothing after it
                colon = self.text.index(":", name.end_mark.index) + 1
                self.edits.append((colon, colon, f" {text}"))
            else:
                self.edits.append((node.start_mark.index, node.end_mark.index, text))
        elif mapping.flow_style:
            brace = mapping.end_mark.index - 1
            self.edits.append((brace, brace, f"{', ' if mapping.value else ''}{key}: {text}"))
        else:
            last = mapping.value[-1][1]
            if last.start_mark.line != last.end_mark.line:
                raise MlopsError(f"{where}: cannot add {key} after a value of several lines")
            end = self.text.find("\n", last.end_mark.index)
            end = len(self.text) if end == -1 else end
            indent = " " * mapping.value[0][0].start_mark.column
            self.edits.append((end, end, f"\n{indent}{key}: {text}"))

    def edited(self) -> str:
        text = self.text
        for start, end, replacement in sorted(self.edits, reverse=True):
            text = text[:start] + replacement + text[end:]
        return text


def _compose(text: str, path: Path) -> yaml.Node:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise MlopsError(f"{path} is not one YAML document: {error}") from error
    if root is None:
        raise MlopsError(f"{path} is empty")
    return root


def _image(root: yaml.Node) -> yaml.Node:
    image = _named(_get(root, "images"), IMAGE_NAME)
    if image is None:
        raise MlopsError(f"the overlay's kustomization has no image {IMAGE_NAME!r}")
    return image


def _server(root: yaml.Node) -> yaml.Node:
    node: yaml.Node | None = root
    for key in ("spec", "template", "spec", "containers"):
        node = _get(node, key) if node is not None else None
    containers = _items(node)
    if not containers:
        raise MlopsError(f"{MODEL_PATCH} patches no container")
    return containers[0]


def _env(container: yaml.Node, name: str) -> yaml.Node | None:
    return _named(_get(container, "env"), name)


def _image_values(root: yaml.Node) -> dict[str, str | None]:
    return {key: _text(_get(_image(root), key)) for key in ("newTag", "digest")}


def _model_values(root: yaml.Node) -> dict[str, str | None]:
    container = _server(root)
    return {
        name: _text(_get(variable, "value"))
        for name in ("MLOPS_MODEL_VERSION", "MLOPS_MODEL_SHA256")
        if (variable := _env(container, name)) is not None
    }


def _pin_image(document: _Document, tag: str, digest: str | None) -> dict[str, str]:
    image = _image(document.root)
    wanted = {"newTag": tag}
    if digest is not None:
        wanted["digest"] = digest
    elif _get(image, "digest") is not None:
        raise MlopsError("this overlay pins its image by digest: pass --image-digest")
    for key, value in wanted.items():
        document.set(image, key, value)
    return wanted


def _pin_model(document: _Document, version: str, sha256: str | None) -> dict[str, str]:
    container = _server(document.root)
    wanted = {"MLOPS_MODEL_VERSION": version}
    if _env(container, "MLOPS_MODEL_SHA256") is not None:
        if sha256 is None:
            raise MlopsError("this overlay pins the model's sha256: pass --model (a model folder)")
        wanted["MLOPS_MODEL_SHA256"] = sha256
    for name, value in wanted.items():
        variable = _env(container, name)
        if variable is None:
            raise MlopsError(f"{document.path} sets no {name}")
        document.set(variable, "value", value)
    return wanted


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
    kustomization = _Document(folder / "kustomization.yaml")
    patch = _Document(folder / MODEL_PATCH)
    pins = [
        (kustomization, _pin_image(kustomization, image_tag, image_digest), _image_values),
        (patch, _pin_model(patch, version, sha256), _model_values),
    ]
    edited = {}
    for document, wanted, values in pins:
        text = edited[document.path] = document.edited()
        if not wanted.items() <= values(_compose(text, document.path)).items():
            raise MlopsError(f"{document.path}: the pin did not read back as set")  # a bug
    for path, text in edited.items():
        write_text(path, text)
    return folder
