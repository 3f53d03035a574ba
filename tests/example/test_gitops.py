"""A GitOps rehearsal: the workflows' own steps, run from their YAML in a clone with a bare local
origin and a local DVC remote, GitHub replaced by a loopback stand-in, the services real.

One team's story, in order: a pull request that changes params (report + gate verdict), its
merge (register → staging → approval → prod), a data push (retrain → pull request), and drift
in production traffic (monitor → issue + dispatch payload).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mlops.config import GitOpsParams, Params
from mlops.gitops import policies, replay
from mlops.gitops.local_github import REPOSITORY
from mlops.gitops.rehearsal import Project, project
from mlops.gitops.replay import featurized_months
from tests.conftest import FLIGHTS, SMALL_SAMPLE_PARAMS, clone_project, run, set_params
from tests.serving import Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("gitops")
    repo = clone_project(root / "repo")
    run("mlops", "data", "create", "--every", "25", cwd=repo)
    # A retrained model may trail the champion a little: the rehearsal is about the path.
    set_params(repo, {**SMALL_SAMPLE_PARAMS, "gate.min_lower_bound": -0.05})
    run("git", "commit", "--quiet", "-am", "sample data, small-sample params", cwd=repo)
    with project(repo, root / "dvc-remote") as rehearsed:
        rehearsed.publish()
        yield rehearsed


def test_1_a_pull_request_that_changes_params_gets_a_report_and_a_verdict(team: Project) -> None:
    team.git("switch", "--quiet", "-c", "tune-learning-rate")
    set_params(team.repo, {"train.hist_gradient_boosting.learning_rate": 0.06})
    team.git("commit", "--quiet", "-am", "learning rate 0.06")
    own = {"pull_request": {"head": {"repo": {"full_name": REPOSITORY}}, "number": 7}}
    result = team.job(
        "model-pr", "report", "pull_request", github={"event": own, "base_ref": "main"}
    )
    # The commit changed params but not the dvc.lock and gate record they make: the required
    # check fails, and the report is still posted.
    assert not result.succeeded
    assert result.step("gate").returncode == 0  # no model in production yet: floors only
    reproduced = result.step("reproduced")
    assert reproduced.returncode == 1
    assert "dvc.lock train: model" in reproduced.output
    report = (team.repo / "build/pr-report/report.md").read_text()
    assert "## Model gate: ✅ promote" in report
    assert "| train.hist_gradient_boosting.learning_rate | 0.0500 | 0.0600 |" in report
    assert "## Slices" in report
    [comment] = [edge for edge in result.edges if edge.startswith("cml comment update")]
    assert "build/pr-report/report.md" in comment

    fork = {"pull_request": {"head": {"repo": {"full_name": "someone/fork"}}, "number": 8}}
    assert not team.job("model-pr", "report", "pull_request", github={"event": fork}).ran
    notice = team.job("model-pr", "fork", "pull_request", github={"event": fork})
    assert notice.succeeded
    assert "comes from a fork" in notice.steps[-2].summary  # the job summary, no token needed

    # The pull request carries its pipeline outputs: now it records what CI reproduced, and a
    # reviewer merges it.
    team.git("add", "--all")
    team.git("commit", "--quiet", "-m", "model with learning rate 0.06")
    assert "reproduce HEAD" in team.mlops("check-reproduced")
    team.git("switch", "--quiet", "main")
    team.git("merge", "--quiet", "--no-ff", "-m", "Merge tune-learning-rate", "tune-learning-rate")
    team.publish()


def test_2_a_merge_registers_deploys_to_staging_and_waits_for_approval(team: Project) -> None:
    team.git("switch", "--quiet", "-c", "not-main")
    assert not team.job("release", "register", "workflow_dispatch").ran  # only main releases
    team.git("switch", "--quiet", "main")
    register = team.job("release", "register", "push")
    assert register.succeeded
    version = register.outputs["version"]
    assert version == "v1.0.0"
    needs = {"register": {"outputs": {"version": version}}}
    image = team.job("release", "image", "push", needs=needs)
    assert image.succeeded
    pushed = [edge for edge in image.edges if edge.startswith("docker/build-push-action")]
    assert pushed  # the image build is the edge: no container engine here
    needs["image"] = {"outputs": image.outputs}
    model = team.repo / "build/registry" / version
    # The service as the controller rolls the pinned overlay out: this version, these bytes
    # (tests/test_rollout.py has the wait for a service that is reloaded later).
    server = Server(team.repo, "--model", str(model), "--version", version)
    try:
        server.wait_ready()
        urls = {"STAGING_URL": server.url, "PRODUCTION_URL": server.url}
        staging = team.job("release", "staging", "push", needs=needs, vars=urls)
        assert staging.succeeded
        assert staging.step("rollout").returncode == 0
        assert staging.step("smoke").returncode == 0  # against the service, over HTTP
        team.forge.approvals = [
            {
                "state": "approved",
                "user": {"login": "alice"},
                "environments": [{"name": "production"}],
            }
        ]
        production = team.job("release", "production", "push", needs=needs, vars=urls)
    finally:
        server.close()
    assert production.succeeded
    team.git("fetch", "--quiet", "--tags", "origin")
    tags = team.git("ls-remote", "--tags", "origin").split()
    assert any(tag.endswith(f"model@{version}") for tag in tags)
    facts = json.loads(run("mlops", "lineage", "--stage", "prod", "--json", cwd=team.repo).stdout)
    assert [stage["stage"] for stage in facts["stages"]] == ["dev", "staging", "prod"]
    assert facts["stages"][-1]["actor"] == "alice"  # read from the run's approval
    assert run("mlops", "registry", "verify", "--github-approvals", cwd=team.repo).returncode == 0
    overlay = team.git("show", "origin/main:deploy/k8s/overlays/production/model-version.yaml")
    assert f"value: {version}" in overlay
    assert yaml.safe_load(overlay)  # still one valid document, comments kept above it
    assert overlay.startswith("# The model this environment serves")


def test_3_a_data_push_retrains_and_proposes_a_pull_request(team: Project) -> None:
    team.git("pull", "--quiet", "origin", "main")
    months = ["2013-01", "2013-02", "2013-03", "2013-04", "2013-05", "2013-06", "2013-07"]
    run(
        "mlops", "data", "create", *(f"--month={m}" for m in months), "--every", "25", cwd=team.repo
    )
    team.git("commit", "--quiet", "-m", "July's flights", "data.dvc")
    team.publish()
    result = team.job("retrain", "retrain", "push")
    assert result.succeeded
    assert result.step("production-rows").kind == "skipped"  # a data push, not drift
    gate = json.loads((team.repo / "reports/gate.json").read_text())
    assert gate["champion"]["version"] == "v1.0.0"
    assert result.step("plan").outputs == {"action": "propose"}
    [proposal] = [edge for edge in result.edges if edge.startswith("cml pr create")]
    assert proposal.endswith("data.dvc dvc.lock reports")
    assert "dvc.lock" in team.git("status", "--porcelain")  # what the pull request carries
    team.git("checkout", "--quiet", "--", ".")


def test_4_drift_in_production_opens_an_issue_and_dispatches_retraining(
    team: Project, params: Params, tmp_path: Path
) -> None:
    summer = featurized_months(
        tmp_path / "summer",
        params,
        ["2013-07", "2013-08"],
        every=10,
        schema_file=FLIGHTS / "schema.yaml",
    )
    collected = tmp_path / "collected"
    model = team.repo / "build/registry/v1.0.0"
    server = Server(team.repo, "--model", str(model), "--collect", str(collected))
    try:
        server.wait_ready()
        sent = replay.replay(server.url, summer, params.features.names, "time_hour")
    finally:
        server.close()
    assert sent["rows"] == len(summer)

    monitor = team.job("monitor", "drift", "schedule", vars={"MLOPS_COLLECT_URL": str(collected)})
    assert monitor.succeeded
    assert monitor.step("monitor").returncode == 3  # sustained drift: a finding, not a failure
    [issue] = team.forge.issues.values()
    assert issue["title"] == policies.ISSUE_TITLES["drift"]
    assert issue["labels"] == [GitOpsParams().issue_label]
    assert "| 2013-07 |" in issue["body"]
    [dispatched] = team.forge.dispatches()
    payload = dispatched["client_payload"]
    assert dispatched["event_type"] == "retrain"
    assert payload["windows"] == ["2013-07", "2013-08"]
    assert (payload["since"], payload["log"]) == ("2013-07-01", str(collected))

    # What the dispatch starts, retraining on those production rows, is the lifecycle's part
    # (tests/test_lifecycle.py runs retrain.yml on such a payload).
