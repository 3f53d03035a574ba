"""``mlops registry ...`` (versions and stages as GTO tags), ``gate`` and ``lineage``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlops import paths
from mlops.cli.app import app
from mlops.cli.common import (
    GATE_REJECT_EXIT,
    ActorOption,
    JsonOption,
    ParamsOption,
    PushOption,
    ReasonOption,
    actor_name,
    console,
    errors,
)
from mlops.config import PARAMS_FILE, load_params

registry_app = typer.Typer(help="Model versions and stages (GTO git tags).", no_args_is_help=True)
app.add_typer(registry_app, name="registry")


@app.command("gate")
def gate_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Score the candidate and the production model on the current holdout and decide.

    Exit codes: 0 promote, 3 reject (a normal, recorded outcome), 1 error (no decision).
    """
    from mlops.registry import gate

    record = gate.run(load_params(params))
    typer.echo(gate.markdown(record))
    if record["verdict"] != "promote":
        raise typer.Exit(GATE_REJECT_EXIT)


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
    from mlops.gitops import ci
    from mlops.registry import versions

    created = versions.register(actor_name(actor), reason, ref, version, push, on_branch)
    ci.set_outputs(version=created)
    console.print(f"registered {versions.tag(created)}")


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
    from mlops.gitops import github
    from mlops.registry import versions

    approval = None
    if approval_run is not None:
        if actor is not None:
            raise versions.RegistryError("--actor with --approval-run: the approver acts")
        approval = {
            "source": "github",
            "run_id": approval_run,
            "environment": approval_environment,
            "approver": github.approver(approval_run, approval_environment),
        }
    versions.promote(version, stage, actor_name(actor), reason, push, approval)
    console.print(f"{version} is now in {stage}")


@registry_app.command("verify")
def registry_verify(
    github_approvals: Annotated[
        bool, typer.Option(help="Production must have been approved in a GitHub environment.")
    ] = False,
) -> None:
    """Audit every version and stage tag: made by `mlops registry`, stages in order, gate
    record and model hashes as registered, production approved. Exit 1 names each bad tag."""
    from mlops.registry import versions

    findings = versions.audit(github_approvals=github_approvals)
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
    from mlops.registry import versions

    left, restored = versions.rollback(actor_name(actor), reason, stage, push)
    console.print(f"rolled back {stage or versions.production_stage()}: {left} -> {restored}")


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

    from mlops.gitops import ci
    from mlops.registry import lineage, versions
    from mlops.tables import write_json

    chosen = lineage.resolve(version, stage)
    shutil.rmtree(out / chosen, ignore_errors=True)  # a build folder: always the fetched bytes
    folder = versions.fetch(chosen, out)
    metrics = lineage.json_at(versions.tag(chosen), paths.METRICS_JSON)  # as registered
    write_json(folder.with_name(f"{chosen}.metrics.json"), metrics)
    ci.set_outputs(version=chosen, model=str(folder))
    console.print(str(folder))


@registry_app.command("show")
def registry_show(as_json: JsonOption = False) -> None:
    """Versions and which stage each one holds."""
    from mlops.registry import versions

    events = versions.history()
    registered = [e.version for e in events if e.kind == "registration"]
    holders = versions.current_stages(events)
    if as_json:
        console.print_json(json.dumps({"versions": registered, "stages": holders}))
        return
    table = Table(title=f"registry: {versions.model_entry().name}")
    table.add_column("version")
    table.add_column("stages")
    for version in registered:
        table.add_row(version, ", ".join(s for s, held in holders.items() if held == version))
    console.print(table)


@registry_app.command("history")
def registry_history(as_json: JsonOption = False) -> None:
    """Every registration and stage change, oldest first, with actor and reason."""
    from dataclasses import asdict

    from mlops.registry import versions

    events = versions.history()
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
    from mlops.registry import model_card

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
    from mlops.registry import lineage

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
