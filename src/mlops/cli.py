"""``mlops``: the one command line. DVC stages, nox sessions and workflows only call this.

Subcommands import what they need when they run, so quick ones (registry, lineage) start fast.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from mlops import paths
from mlops.config import PARAMS_FILE, SCHEMA_FILE, load_params
from mlops.errors import MlopsError


class _ReportsFailures(TyperGroup):
    """Every command's expected failures (``MlopsError``: bad input or state, a missing file
    the user named) print one line and exit 1; anything else is a bug and keeps its traceback.
    One handler at the root, around every subcommand."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context
        try:
            return super().invoke(ctx)
        except (MlopsError, FileNotFoundError) as error:
            errors.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_ReportsFailures,
    help="GitOps template for machine-learning operations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="The versioned raw data (data.dvc).", no_args_is_help=True)
registry_app = typer.Typer(help="Model versions and stages (GTO git tags).", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(registry_app, name="registry")
monitor_app = typer.Typer(help="Drift, data quality and live performance.", no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")
report_app = typer.Typer(help="Reports for pull requests and issues.", no_args_is_help=True)
app.add_typer(report_app, name="report")
github_app = typer.Typer(help="GitHub, the workflows' edge.", no_args_is_help=True)
app.add_typer(github_app, name="github")
deploy_app = typer.Typer(
    help="Deployment: overlays, rollout waits and smoke tests.", no_args_is_help=True
)
app.add_typer(deploy_app, name="deploy")
console = Console()
errors = Console(stderr=True)

ParamsOption = Annotated[Path, typer.Option("--params", help="Pipeline parameters.")]
ActorOption = Annotated[
    str | None, typer.Option(help="Who acts (default: $MLOPS_ACTOR, $GITHUB_ACTOR, git user.name).")
]
ReasonOption = Annotated[str, typer.Option(help="Why: kept in the tag annotation.")]
PushOption = Annotated[bool, typer.Option(help="Push the new tags to origin.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
GATE_REJECT_EXIT = 3
DRIFT_EXIT = 3  # mlops monitor drift: sustained drift, retraining recommended
DATA_QUALITY_EXIT = 4  # mlops monitor drift: the newest window has a data problem
NO_DATA_EXIT = 5  # mlops monitor drift: no row scored by the model could be judged
SchedulerOption = Annotated[str | None, typer.Option(help="Dask scheduler address.")]
LocalClusterOption = Annotated[int, typer.Option(help="Dask workers started here (0: no).")]


def _actor(actor: str | None) -> str:
    from mlops import git

    return actor or git.actor()


def _print_table(title: str, values: dict[str, Any]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in values.items():
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


@app.command("pipeline")
def pipeline_command(
    force: Annotated[bool, typer.Option(help="Re-run every stage (dvc repro --force).")] = False,
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """The main job: the data version in place, `dvc repro`, then the metrics table."""
    from mlops import datastore, dvc

    console.print(f"data: {datastore.ensure(load_params(params))}")
    dvc.stream("repro", *(["--force"] if force else []))
    metrics_command()


@data_app.command("pull")
def data_pull(params: ParamsOption = PARAMS_FILE) -> None:
    """Make data/ hold the version data.dvc records: as is, from the remote, or rebuilt."""
    from mlops import datastore

    console.print(f"data: {datastore.ensure(load_params(params))}")


@data_app.command("add-month")
def data_add_month(
    month: Annotated[str, typer.Argument(help="YYYY-MM")], params: ParamsOption = PARAMS_FILE
) -> None:
    """Add one month from the configured source as a new data version (then commit data.dvc)."""
    from mlops import datastore

    console.print(f"data.dvc now records {datastore.add_month(load_params(params), month)}")


@data_app.command("create")
def data_create(
    months: Annotated[list[str] | None, typer.Option("--month", help="YYYY-MM; repeat")] = None,
    every: Annotated[int, typer.Option(help="keep every n-th row of the main table")] = 1,
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """Write a new data version from the source (default: data.initial_months in params)."""
    from mlops import datastore

    config = load_params(params)
    digest = datastore.create(config, months or config.data.initial_months, every)
    console.print(f"data.dvc now records {digest}")


@data_app.command("import")
def data_import(
    paths: Annotated[list[Path], typer.Argument(help="CSV or Parquet files")],
    table: Annotated[str, typer.Option(help="the table (folder under data.dir) they belong to")],
    lookup: Annotated[bool, typer.Option(help="keep the table whole, not split by month")] = False,
    new: Annotated[
        bool, typer.Option(help="a version of only these files (leave the recorded data out)")
    ] = False,
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """Import your own files into data/<table>/ as a new data version (then commit data.dvc)."""
    from mlops.data_import import import_files

    written, digest = import_files(load_params(params), paths, table, lookup, new)
    console.print(f"wrote {', '.join(map(str, written))}; data.dvc now records {digest}")


@data_app.command("add")
def data_add(params: ParamsOption = PARAMS_FILE) -> None:
    """Record data/ as it is now as a new version, meta included: use it instead of dvc add."""
    from mlops import datastore

    console.print(f"data.dvc now records {datastore.record(load_params(params))}")


@app.command("validate")
def validate_command(
    params: ParamsOption = PARAMS_FILE,
    schema: Annotated[Path, typer.Option(help="The data contract.")] = SCHEMA_FILE,
) -> None:
    """Check raw data against the schema; write clean tables and the data-quality report."""
    from mlops import validate

    report = validate.run(load_params(params), schema)
    for table, body in report["tables"].items():
        console.print(
            f"{table}: {body['rows_out']} rows valid, {body['duplicates_removed']} "
            f"duplicates removed, {len(body['outliers'])} columns with outliers"
        )


@app.command("featurize")
def featurize_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Build features and the label; split by time into train, validation and holdout."""
    from mlops import featurize

    for name, part in featurize.run(load_params(params)).items():
        span = f", {part['start']} .. {part['end']}" if "start" in part else ""
        console.print(f"{name}: {part['rows']} rows{span}")


@app.command("train")
def train_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Fit the model named in params.yaml and save it with its reference profile."""
    from mlops import train

    metadata = train.run(load_params(params))
    console.print(
        f"trained {metadata['estimator']} on {metadata['trained_on']['rows']} rows, "
        f"threshold {metadata['threshold']:.4f}"
    )


@app.command("evaluate")
def evaluate_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Score the model on the holdout: metrics, slices, plots, permutation importance."""
    from mlops import evaluate

    _print_table("holdout metrics", evaluate.run(load_params(params)))


@app.command("serving-check")
def serving_check_command(
    schema: Annotated[Path, typer.Option(help="The data contract.")] = SCHEMA_FILE,
) -> None:
    """Send holdout rows through the service's request model: scores must equal evaluate's."""
    from mlops import serving_check

    result = serving_check.run(schema if schema.exists() else None)
    console.print(
        f"serving check: {result['rows']} holdout rows, largest difference "
        f"{result['largest_difference']:.3g} (fast path {'on' if result['fast_path'] else 'off'})"
    )


@app.command("profile")
def profile_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Measure model size and single-row / batch prediction latency."""
    from mlops import latency

    console.print_json(json.dumps(latency.run(load_params(params))))


@app.command("serve")
def serve_command(
    model: Annotated[Path, typer.Option(help="Model folder to serve.")] = paths.MODEL_DIR,
    registered: Annotated[
        str | None, typer.Option(help="Serve this registered version (vX.Y.Z) instead.")
    ] = None,
    stage: Annotated[
        str | None, typer.Option(help="Serve the version holding this stage; reloads follow it.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Served name (default: folder name).")] = None,
    version: Annotated[
        str | None, typer.Option(envvar="MLOPS_MODEL_VERSION", help="Default: sha256[:12].")
    ] = None,
    sha256: Annotated[
        str | None,
        typer.Option(envvar="MLOPS_MODEL_SHA256", help="Refuse a model folder of another sha256."),
    ] = None,
    collect: Annotated[
        str | None,
        typer.Option(envvar="MLOPS_COLLECT_URL", help="Folder or fsspec URL for scored rows."),
    ] = None,
    sample_rate: Annotated[float, typer.Option(help="Share of requests collected.")] = 1.0,
    parity_data: Annotated[
        Path | None, typer.Option(help="Parquet rows the fast path must match on.")
    ] = None,
    schema: Annotated[Path, typer.Option(help="The data contract.")] = SCHEMA_FILE,
    max_rows: Annotated[int, typer.Option(help="Rows per request.")] = 1000,
    max_body_bytes: Annotated[int, typer.Option(help="Request body size.")] = 1 << 20,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Serve a model over HTTP (/predict, Open Inference Protocol v2, /metrics)."""
    import tempfile

    from mlops import servable, service

    source: servable.ModelSource = servable.FolderSource(model, name, version)
    if registered or stage:
        downloads = Path(tempfile.mkdtemp(prefix="mlops-models-"))
        source = servable.RegistrySource(registered, stage, downloads)
    settings = service.Settings(
        source=source,
        expected_sha256=sha256,
        parity_data=parity_data,
        schema_file=schema if schema.exists() else None,
        collector_url=collect,
        sample_rate=sample_rate,
        max_rows=max_rows,
        max_body_bytes=max_body_bytes,
    )
    service.serve(settings, host, port)


@app.command("label-join")
def label_join_command(
    collected: Annotated[str, typer.Argument(help="Collector folder or fsspec URL.")],
    output: Annotated[Path, typer.Argument(help="Parquet file to write.")],
) -> None:
    """Join collected predictions with feedback into a labelled data set for retraining."""
    from mlops import labels

    console.print_json(json.dumps(labels.run(collected, output)))


@app.command("batch-score")
def batch_score_command(
    source: Annotated[Path, typer.Argument(help="CSV or Parquet rows.", metavar="IN")],
    output: Annotated[Path, typer.Argument(help="Parquet output.", metavar="OUT")],
    model: Annotated[Path, typer.Option(help="Model folder.")] = paths.MODEL_DIR,
    scheduler: SchedulerOption = None,
    local_cluster: LocalClusterOption = 0,
    partition_rows: Annotated[
        int | None, typer.Option(help="Rows per Dask task (default: batch.PARTITION_ROWS).")
    ] = None,
) -> None:
    """Score a file: pandas here, or on a Dask cluster with --scheduler / --local-cluster."""
    from mlops import batch

    rows = partition_rows or batch.PARTITION_ROWS
    result = batch.run(source, output, model, scheduler, local_cluster, rows)
    console.print_json(json.dumps(result))


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
    from mlops import production

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


@monitor_app.command("drift")
def monitor_drift_command(
    collected: Annotated[str, typer.Argument(help="Collector folder or fsspec URL.")],
    model: Annotated[
        Path, typer.Option(help="Model folder (its reference profile).")
    ] = paths.MODEL_DIR,
    holdout_metrics: Annotated[
        Path, typer.Option(help="The model's holdout metrics, to compare live ones with.")
    ] = paths.METRICS_JSON,
    window: Annotated[
        str | None, typer.Option(help="Window: h, D, W or M (default: params monitor.window).")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for drift.json, .md and .html.")
    ] = paths.MONITORING_DIR,
    alert: Annotated[
        bool, typer.Option(help="Post to the webhook in $MLOPS_ALERT_WEBHOOK on drift or bad data.")
    ] = False,
    scheduler: SchedulerOption = None,
    local_cluster: LocalClusterOption = 0,
    all_versions: Annotated[
        bool, typer.Option(help="Rows scored by any model, not only by this one.")
    ] = False,
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """Drift and data quality per window, live performance, and whether to retrain.

    Exit code: 0 no drift, 3 sustained drift (retrain), 4 data-quality failure, 5 no rows this
    model scored could be judged (is the collector running?), 1 error.
    """
    from mlops import alerts, ci, monitor, monitor_report

    report = monitor.run(
        collected,
        model,
        load_params(params),
        SCHEMA_FILE if SCHEMA_FILE.exists() else None,
        holdout_metrics,
        window,
        scheduler,
        local_cluster,
        all_versions,
    )
    monitor_report.write(report, out)
    decision = report["decision"]
    ci.set_outputs(status=decision["status"])
    console.print(monitor_report.summary(report), highlight=False)
    if alert and decision["status"] != monitor.NO_DRIFT:
        alerts.post(monitor_report.alert_text(report))
    if decision["status"] == monitor.DRIFT:
        raise typer.Exit(DRIFT_EXIT)
    if decision["status"] == monitor.DATA_QUALITY:
        raise typer.Exit(DATA_QUALITY_EXIT)
    if decision["status"] == monitor.NO_DATA:
        raise typer.Exit(NO_DATA_EXIT)


@monitor_app.command("notify")
def monitor_notify_command(
    report_dir: Annotated[
        Path, typer.Argument(help="The --out folder of monitor drift.")
    ] = paths.MONITORING_DIR,
    run_url: Annotated[str, typer.Option(help="The workflow run, linked from the issue.")] = "",
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """On drift or bad data open or update one issue; on drift also dispatch retraining."""
    from mlops import ci, gitops

    result = gitops.notify(report_dir, load_params(params).gitops, run_url)
    ci.set_outputs(status=result["status"])
    console.print_json(json.dumps(result))


@app.command("retrain-plan")
def retrain_plan_command(params: ParamsOption = PARAMS_FILE) -> None:
    """After retraining: report, propose or merge (params gitops.retrain and the gate record)."""
    from mlops import ci, gitops

    record = json.loads(paths.GATE_JSON.read_text())
    plan = gitops.retrain_plan(load_params(params).gitops, record)
    ci.set_outputs(action=plan["action"])
    console.print_json(json.dumps(plan))


@report_app.command("fork-notice")
def report_fork_notice_command(
    out: Annotated[Path, typer.Option(help="Folder for report.md.")] = paths.PR_REPORT_DIR,
) -> None:
    """A fork's pull request: why no model report, and how to get one, in report.md and in the
    job's summary (a fork's run gets no token that may comment, and needs none)."""
    from mlops import ci, pr_report

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
    from mlops import artifact, deploy, git

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
) -> None:
    """Wait until a deployed service serves the pinned model: its version and folder sha256
    (token: $MLOPS_API_TOKEN). One line per poll on stderr; exit 1 on timeout."""
    import os

    from mlops import artifact, rollout

    if not (model / artifact.MODEL_FILE).exists():
        raise MlopsError(f"no model in {model}")
    answer = rollout.wait_for_rollout(
        url,
        version,
        artifact.digest(model),
        timeout=timeout,
        interval=interval,
        token=os.environ.get("MLOPS_API_TOKEN"),
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

    from mlops import artifact, smoke

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
    from mlops import ci, pr_report

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
    from mlops import lifecycle
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


@app.command("metrics")
def metrics_command() -> None:
    """Print the current model's holdout metrics and profile."""

    _print_table("holdout metrics", json.loads(paths.METRICS_JSON.read_text()))
    profile = json.loads(paths.PROFILE_JSON.read_text())
    _print_table(
        "profile",
        {
            "model size (bytes)": profile["model_size_bytes"],
            "single row p50 / p99 (ms)": "{p50_ms} / {p99_ms}".format(**profile["single_row"]),
            "batch rows/s": profile["batch"]["rows_per_s"],
        },
    )


@app.command("gate")
def gate_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Score the candidate and the production model on the current holdout and decide.

    Exit codes: 0 promote, 3 reject (a normal, recorded outcome), 1 error (no decision).
    """
    from mlops import gate

    record = gate.run(load_params(params))
    typer.echo(gate.markdown(record))
    if record["verdict"] != "promote":
        raise typer.Exit(GATE_REJECT_EXIT)


@app.command("check-reproduced")
def check_reproduced_command(
    revision: Annotated[str, typer.Option(help="The commit to compare with.")] = "HEAD",
) -> None:
    """After `mlops pipeline --force` and `mlops gate`: fail (exit 1) where the reproduced
    dvc.lock or gate decision differs from the commit's, so what is merged is what was gated."""
    from mlops import reproduction

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


@registry_app.command("register")
def registry_register(
    version: Annotated[str | None, typer.Option(help="vX.Y.Z; default: the bump rule")] = None,
    ref: Annotated[str, typer.Option(help="The commit whose model to register.")] = "HEAD",
    actor: ActorOption = None,
    reason: ReasonOption = "gate passed",
    push: PushOption = False,
    on_branch: Annotated[
        str | None, typer.Option(help="Refuse a commit this branch does not hold (origin/main).")
    ] = None,
) -> None:
    """Register the committed model (needs a promote gate record) and put it in the first stage."""
    from mlops import ci, registry

    created = registry.register(_actor(actor), reason, ref, version, push, on_branch)
    ci.set_outputs(version=created)
    console.print(f"registered {registry.tag(created)}")


@registry_app.command("promote")
def registry_promote(
    version: Annotated[str, typer.Argument(help="vX.Y.Z")],
    stage: Annotated[str, typer.Option(help="Target stage.")],
    actor: ActorOption = None,
    reason: ReasonOption = "promoted",
    push: PushOption = False,
    approval_run: Annotated[
        str | None,
        typer.Option(help="The workflow run whose environment approval production records."),
    ] = None,
    approval_environment: Annotated[
        str, typer.Option(help="The GitHub environment that was approved.")
    ] = "production",
) -> None:
    """Move a version to the next stage; production needs staging first, a promote record and
    an approval (taken from GitHub with --approval-run, else the local actor's)."""
    from mlops import github, registry

    approval = None
    if approval_run is not None:
        if actor is not None:
            raise registry.RegistryError("--actor with --approval-run: the approver acts")
        approval = {
            "source": "github",
            "run_id": approval_run,
            "environment": approval_environment,
            "approver": github.approver(approval_run, approval_environment),
        }
    registry.promote(version, stage, _actor(actor), reason, push, approval)
    console.print(f"{version} is now in {stage}")


@registry_app.command("verify")
def registry_verify(
    github_approvals: Annotated[
        bool, typer.Option(help="Production must have been approved in a GitHub environment.")
    ] = False,
) -> None:
    """Audit every version and stage tag: made by `mlops registry`, stages in order, gate
    record and model hashes as registered, production approved. Exit 1 names each bad tag."""
    from mlops import registry

    findings = registry.audit(github_approvals=github_approvals)
    for finding in findings:
        errors.print(f"[bold red]{finding.tag}[/]: {finding.problem}", highlight=False)
    if findings:
        raise typer.Exit(1)
    console.print("every registry tag is the platform's")


@registry_app.command("rollback")
def registry_rollback(
    stage: Annotated[str | None, typer.Option(help="Default: the production stage.")] = None,
    actor: ActorOption = None,
    reason: ReasonOption = "",
    push: PushOption = False,
) -> None:
    """Give the stage back to the version that held it before."""
    from mlops import registry

    left, restored = registry.rollback(_actor(actor), reason, stage, push)
    console.print(f"rolled back {stage or registry.production_stage()}: {left} -> {restored}")


@registry_app.command("fetch")
def registry_fetch(
    version: Annotated[str | None, typer.Argument(help="vX.Y.Z")] = None,
    stage: Annotated[str | None, typer.Option(help="The version holding this stage.")] = None,
    out: Annotated[
        Path, typer.Option(help="Folder to write the model folder into.")
    ] = paths.REGISTRY_DIR,
) -> None:
    """Write a registered model folder (and its holdout metrics) from the cache or the remote."""
    import shutil

    from mlops import ci, lineage, registry
    from mlops.tables import write_json

    chosen = lineage.resolve(version, stage)
    shutil.rmtree(out / chosen, ignore_errors=True)  # a build folder: always the fetched bytes
    folder = registry.fetch(chosen, out)
    metrics = lineage.json_at(registry.tag(chosen), paths.METRICS_JSON)  # as registered
    write_json(folder.with_name(f"{chosen}.metrics.json"), metrics)
    ci.set_outputs(version=chosen, model=str(folder))
    console.print(str(folder))


@registry_app.command("show")
def registry_show(as_json: JsonOption = False) -> None:
    """Versions and which stage each one holds."""
    from mlops import registry

    events = registry.history()
    versions = [e.version for e in events if e.kind == "registration"]
    holders = registry.current_stages(events)
    if as_json:
        console.print_json(json.dumps({"versions": versions, "stages": holders}))
        return
    table = Table(title=f"registry: {registry.model_entry().name}")
    table.add_column("version")
    table.add_column("stages")
    for version in versions:
        table.add_row(version, ", ".join(s for s, held in holders.items() if held == version))
    console.print(table)


@registry_app.command("history")
def registry_history(as_json: JsonOption = False) -> None:
    """Every registration and stage change, oldest first, with actor and reason."""
    from dataclasses import asdict

    from mlops import registry

    events = registry.history()
    if as_json:
        console.print_json(json.dumps([asdict(event) for event in events]))
        return
    table = Table(title="registry history")
    for column in ("time", "event", "version", "stage", "actor", "reason"):
        table.add_column(column)
    for e in events:
        table.add_row(
            e.time,
            e.kind,
            e.version,
            e.stage or "",
            str(e.note.get("actor", "")),
            str(e.note.get("reason", e.note.get("message", ""))),
        )
    console.print(table)


@registry_app.command("card")
def registry_card(
    version: Annotated[str, typer.Argument(help="vX.Y.Z")],
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """The model card (markdown) of a registered version."""
    from mlops import model_card

    text = model_card.render(version)
    if output:
        output.write_text(text)
    else:
        typer.echo(text)


@app.command("lineage")
def lineage_command(
    version: Annotated[str | None, typer.Argument(help="vX.Y.Z")] = None,
    stage: Annotated[str | None, typer.Option(help="The version holding this stage.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Data version, code commit, params, metrics, gate decision and stage history of a version."""
    from mlops import lineage

    facts = lineage.record(lineage.resolve(version, stage))
    if as_json:
        console.print_json(json.dumps(facts))
        return
    table = Table(title=f"lineage of {facts['tag']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    metrics = facts["metrics"] or {}
    rows = {
        "git commit": facts["git_commit"],
        "model (dvc md5)": facts["model_md5"],
        "data (data.dvc md5)": facts["data"]["md5"],
        "data months": ", ".join(facts["data"]["months"]),
        "production rows": "; ".join(
            f"{batch['rows']} from {batch['log']} ({batch['since'][:10]} to {batch['until'][:10]})"
            for batch in facts["data"]["production"]
        )
        or "none",
        "params sha256": facts["params"]["sha256"],
        "estimator": f"{facts['params']['estimator']} {facts['params']['hyperparameters']}",
        "metrics": ", ".join(f"{k}={v}" for k, v in metrics.items() if k != "rows"),
        "gate": f"{facts['gate']['verdict']} vs {facts['gate']['champion'] or 'no champion'} "
        f"(record {str(facts['gate']['sha256'])[:12]})",
        "registered": f"{facts['registered']['time']} by {facts['registered']['actor']}: "
        f"{facts['registered']['reason']}",
        "holds now": ", ".join(facts["holds"]) or "no stage",
    }
    for name, value in rows.items():
        table.add_row(name, str(value))
    for event in facts["stages"]:
        approval = event["approval"] or {}
        approved = {
            "github": f" (approved in run {approval.get('run_id')}, {approval.get('environment')})",
            "local": " (approved locally)",
        }.get(str(approval.get("source")), "")
        table.add_row(
            f"stage {event['stage']}",
            f"{event['time']} by {event['actor']}{approved}: {event['reason']}",
        )
    console.print(table)
