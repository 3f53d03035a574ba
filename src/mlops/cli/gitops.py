"""What the workflows run: ``report ...``, ``deploy ...``, retraining plans, ``lifecycle``
and ``check-reproduced``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from mlops import paths
from mlops.cli.app import app
from mlops.cli.common import ParamsOption, console, errors
from mlops.config import PARAMS_FILE, SCHEMA_FILE, load_params
from mlops.errors import MlopsError

report_app = typer.Typer(help="Reports for pull requests and issues.", no_args_is_help=True)
app.add_typer(report_app, name="report")
deploy_app = typer.Typer(
    help="Deployment: overlays, rollout waits and smoke tests.", no_args_is_help=True
)
app.add_typer(deploy_app, name="deploy")


@app.command("retrain-from-production")
def retrain_from_production_command(
    collected: Annotated[str, typer.Argument(help="Collector folder or fsspec URL.")],
    since: Annotated[datetime, typer.Option(help="First day (UTC) of rows to take.")],
    until: Annotated[datetime, typer.Option(help="Day (UTC) after the last one.")],
    branch: Annotated[
        str | None, typer.Option(help="Branch to commit on (default: retrain/production-...).")
    ] = None,
    push: Annotated[bool, typer.Option(help="dvc push the data, git push the branch.")] = False,
    commit: Annotated[
        bool, typer.Option(help="Commit on a new branch (--no-commit: leave it to `cml pr`).")
    ] = True,
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """Labelled production rows of a period become a new data version on a new branch."""
    from mlops.gitops import production

    result = production.run(
        collected,
        since.replace(tzinfo=UTC),
        until.replace(tzinfo=UTC),
        load_params(params),
        SCHEMA_FILE,
        branch,
        push,
        commit,
    )
    console.print_json(json.dumps(result))


@app.command("retrain-plan")
def retrain_plan_command(params: ParamsOption = PARAMS_FILE) -> None:
    """After retraining: report, propose or merge (params gitops.retrain and the gate record)."""
    from mlops.gitops import ci, policies

    record = json.loads(paths.GATE_JSON.read_text())
    plan = policies.retrain_plan(load_params(params).gitops, record)
    ci.set_outputs(action=plan["action"])
    console.print_json(json.dumps(plan))


@report_app.command("fork-notice")
def report_fork_notice_command(
    out: Annotated[Path, typer.Option(help="Folder for report.md.")] = paths.PR_REPORT_DIR,
) -> None:
    """A fork's pull request: why no model report, and how to get one, in report.md and in the
    job's summary (a fork's run gets no token that may comment, and needs none)."""
    from mlops.gitops import ci, pr_report

    report = pr_report.fork_notice(out)
    ci.add_summary(report.read_text())
    console.print(str(report))


@deploy_app.command("pin")
def deploy_pin_command(
    overlay: Annotated[str, typer.Argument(help="staging or production.")],
    version: Annotated[str, typer.Option(help="The registered model version.")],
    image_tag: Annotated[str, typer.Option(help="The image tag to run.")],
    image_digest: Annotated[
        str | None,
        typer.Option(help="The image's digest (sha256:<64 hex>): kustomize runs image@digest."),
    ] = None,
    model: Annotated[Path, typer.Option(help="The model folder (its sha256).")] = paths.MODEL_DIR,
    commit: Annotated[bool, typer.Option(help="Commit the overlay change.")] = False,
    push: Annotated[bool, typer.Option(help="Push the commit to origin.")] = False,
) -> None:
    """Point an overlay at a model version and its image: a GitOps commit deploys it."""
    from mlops import artifact, git
    from mlops.gitops import deploy

    model_file = model / artifact.MODEL_FILE
    sha256 = artifact.digest(model) if model_file.exists() else None
    folder = deploy.pin(overlay, version, image_tag, sha256, image_digest)
    if commit or push:
        git.commit_paths([str(folder)], f"Deploy {version} to {overlay} (image {image_tag})")
    if push:
        git.push(git.current_branch())
    console.print(str(folder))


@deploy_app.command("wait")
def deploy_wait_command(
    url: Annotated[str, typer.Argument(help="The service's base URL.")],
    version: Annotated[str, typer.Option(help="The pinned model version.")],
    model: Annotated[
        Path, typer.Option(help="The pinned model folder (its sha256).")
    ] = paths.MODEL_DIR,
    timeout: Annotated[float, typer.Option(help="Seconds to wait at most.")] = 900,
    interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 10,
    settled: Annotated[
        int, typer.Option(min=1, help="Polls in a row that must see it (one pod each).")
    ] = 3,
) -> None:
    """Wait until a deployed service serves the pinned model: its version and folder sha256
    (token: $MLOPS_API_TOKEN), on several polls in a row, since each may reach another pod.
    One line per poll on stderr; exit 1 on timeout."""
    import os

    from mlops import artifact
    from mlops.gitops import rollout

    if not (model / artifact.MODEL_FILE).exists():
        raise MlopsError(f"no model in {model}")
    answer = rollout.wait_for_rollout(
        url,
        version,
        artifact.digest(model),
        timeout=timeout,
        interval=interval,
        token=os.environ.get("MLOPS_API_TOKEN"),
        settled=settled,
    )
    console.print_json(json.dumps(answer))


@deploy_app.command("smoke-test")
def deploy_smoke_test_command(
    url: Annotated[str, typer.Argument(help="The service's base URL.")],
    model: Annotated[
        Path, typer.Option(help="The model folder (a typical row).")
    ] = paths.MODEL_DIR,
) -> None:
    """Health and one real prediction against a deployed service (token: $MLOPS_API_TOKEN)."""
    import os

    from mlops import artifact
    from mlops.serving import smoke

    token = os.environ.get("MLOPS_API_TOKEN")
    input_types = artifact.metadata(model).get("input_types")
    console.print_json(json.dumps(smoke.run(url, artifact.reference(model), token, input_types)))


@report_app.command("pr")
def report_pr_command(
    base: Annotated[str, typer.Option(help="The pull request's base revision, e.g. origin/main.")],
    out: Annotated[
        Path, typer.Option(help="Folder for report.md and plots/.")
    ] = paths.PR_REPORT_DIR,
    images: Annotated[
        bool, typer.Option(help="Embed the PNG plots (only if CML may publish images).")
    ] = False,
) -> None:
    """The pull-request comment (also the job's summary): gate verdict, metrics, params,
    slices, data quality, plots."""
    from mlops.gitops import ci, pr_report

    report = pr_report.write(base, out, images)
    ci.add_summary(report.read_text())
    console.print(str(report))


@app.command("lifecycle")
def lifecycle_command(
    month: Annotated[
        list[str] | None, typer.Option(help="Months to replay (default: params lifecycle.months).")
    ] = None,
    every: Annotated[int | None, typer.Option(help="Every n-th flight (sample).")] = None,
    requests_per_second: Annotated[
        float | None, typer.Option(help="Traffic pace (0: unthrottled).")
    ] = None,
    approver: Annotated[str | None, typer.Option(help="Who approves production.")] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for the timeline and report.")
    ] = paths.LIFECYCLE_DIR,
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """Replay the whole loop on a clone: train, release, serve, monitor, retrain, release."""
    from mlops.gitops import lifecycle
    from mlops.markdown import table as markdown_table

    loaded = load_params(params)
    settings = lifecycle.Settings(
        months=month or loaded.lifecycle.months,
        every=every or loaded.lifecycle.every,
        requests_per_second=loaded.lifecycle.requests_per_second
        if requests_per_second is None
        else requests_per_second,
        approver=approver or loaded.lifecycle.approver,
        out=out,
    )
    result = lifecycle.run(loaded, settings, Path.cwd())
    console.print(result["summary"])
    rows = lifecycle.timeline_rows([lifecycle.Month(**row) for row in result["timeline"]])
    console.print("\n".join(markdown_table(rows[0], rows[1:])), highlight=False, soft_wrap=True)
    console.print(f"report: {out / 'lifecycle.html'}, lineage: {out / 'lineage.json'}")


@app.command("check-reproduced")
def check_reproduced_command(
    revision: Annotated[str, typer.Option(help="The commit to compare with.")] = "HEAD",
) -> None:
    """After `mlops pipeline --force` and `mlops gate`: fail (exit 1) where the reproduced
    dvc.lock or gate decision differs from the commit's, so what is merged is what was gated."""
    from mlops.gitops import reproduction

    found = reproduction.differences(revision)
    for difference in found:
        errors.print(difference, highlight=False, soft_wrap=True)
    if found:
        errors.print(
            "[bold red]error:[/] the commit does not record what its code and data reproduce: "
            "run `dvc repro` and `mlops gate`, and commit dvc.lock and reports/ unedited",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    console.print(f"dvc.lock and the gate record reproduce {revision}")
