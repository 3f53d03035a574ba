"""The rehearsal's ``${{ }}`` expressions against GitHub's documented semantics ("Evaluate
expressions in workflows and actions"): literals, operators and their precedence, loose equality,
falsy values and the functions; and every expression in the workflows parses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.gitops.rehearsal import RehearsalError, evaluate, expressions, parse, run_job, substitute
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
EVENT = {"repository": {"default_branch": "main"}, "labels": [{"name": "bug"}]}


@pytest.fixture
def context() -> dict[str, Any]:
    return {
        "github": {"event_name": "push", "ref_name": "main", "repository": "o/r", "event": EVENT},
        "vars": {"EMPTY": "", "LIST": ["a", "b"], "NAN": float("nan"), "COPY": dict(EVENT)},
        "secrets": {},
        "steps": {"build": {"outputs": {"digest": "sha256:00"}, "outcome": "success"}},
    }


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        # && binds tighter than ||; both give an operand, not a boolean
        ("true || false && false", True),
        ("false && true || true", True),
        ("(true || false) && false", False),
        ("'a' && 'b'", "b"),
        ("'' && 'b'", ""),
        ("0 || null", None),
        ("'' || 'default'", "default"),
        ("github.event.number || 7", 7),
        ("vars.EMPTY || 'ubuntu-latest'", "ubuntu-latest"),
        # ! binds tighter than <, which binds tighter than ==; . and [] tighter than !
        ("!2 < 3", True),
        ("!(2 < 3)", False),
        ("3 < 2 < 1", True),
        ("1 < 2 == true", True),
        ("!github.event", False),
        # literals
        ("null", None),
        ("711", 711),
        ("-9.2", -9.2),
        ("0xff", 255),
        ("-2.99e-2", -0.0299),
        ("'It''s open source!'", "It's open source!"),
        # strings compare ignoring case
        ("'abc' == 'ABC'", True),
        ("'abc' != 'ABC'", False),
        ("'a' < 'B'", True),
        ("github.ref_name == 'MAIN'", True),
        # different types compare as numbers: null 0, true 1, '' 0, other strings NaN
        ("null == 0", True),
        ("1 == '1'", True),
        ("true == 1", True),
        ("false == ''", True),
        ("'1.5' == 1.5", True),
        ("'abc' == 0", False),
        ("'abc' != 0", True),
        ("'abc' < 1", False),
        ("'abc' >= 1", False),
        ("vars.NAN == vars.NAN", False),
        # objects and arrays are equal only to themselves
        ("github.event == github['event']", True),
        ("github.event == vars.COPY", False),
        ("github.event == 0", False),
        # falsy: false, 0, -0, '', null, NaN; objects and arrays are truthy
        ("!false && !0 && !-0 && !'' && !null && !vars.NAN", True),
        ("!vars.LIST && !github.event", False),
        # property de-reference: missing is null, keys ignore case, arrays take indices
        ("github.event.number", None),
        ("github['event']['repository'].default_branch", "main"),
        ("GitHub.Event_Name", "push"),
        ("vars.LIST[1]", "b"),
        ("vars.LIST[2]", None),
        ("steps.build.outputs.digest", "sha256:00"),
        ("(!github).ref_name", None),
        # functions
        ("format('{0}-{1}', 'a', 1)", "a-1"),
        ("format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", "Hello Mona the Octocat"),
        ("format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", "{Hello Mona the Octocat!}"),
        ("format('{0} {1}', true, null)", "true "),
        ("contains('Hello', 'ell')", True),
        ("contains('Hello world', 'LLO')", True),
        ("contains('Hello', 'bye')", False),
        ("contains(vars.LIST, 'B')", True),
        ("contains(vars.LIST, 'c')", False),
        ("contains(github.event, 'repository')", False),
        ("startsWith('Hello world', 'he')", True),
        ("endsWith('Hello world', 'LD')", True),
        ("StartsWith('Hello world', 'world')", False),
        ("contains('a1', 1)", True),
    ],
)
def test_documented_semantics(expression: str, value: Any, context: dict[str, Any]) -> None:
    assert evaluate(expression, context) == value
    assert type(evaluate(expression, context)) is type(value)


def test_operators_short_circuit(context: dict[str, Any]) -> None:
    # A rehearsal is given no runner context: reading it fails, unless it is never read.
    with pytest.raises(RehearsalError, match="runner"):
        evaluate("runner.os", context)
    assert evaluate("true || runner.os", context) is True
    assert evaluate("false && runner.os", context) is False


def test_status_functions_follow_the_failed_state(context: dict[str, Any]) -> None:
    assert evaluate("!cancelled()", context) is True
    assert evaluate("success() && !failure() && always()", context) is True
    assert evaluate("failure()", context, failed=True) is True
    assert evaluate("success()", context, failed=True) is False
    assert evaluate("cancelled()", context, failed=True) is False
    with pytest.raises(RehearsalError, match=r"success\(\)"):
        substitute("${{ success() }}", context)  # status functions are for if: only


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("fromJSON('[1]')", "unknown function"),
        ("hashFiles('**/uv.lock')", "unknown function"),
        ("nosuch.value", "not a context"),
        ('"double quoted"', "unexpected"),
        ("github.event.labels.*.name", "object filters"),
        ("github.sha ==", "unexpected"),
        ("(true", r"expected '\)'"),
        ("true false", "unexpected"),
        ("contains('a')", "takes 2"),
        ("-github.sha", "unexpected"),
    ],
)
def test_what_is_not_understood_fails_loudly(expression: str, reason: str) -> None:
    with pytest.raises(RehearsalError, match=reason) as raised:
        parse(expression)
    assert repr(expression) in str(raised.value)


def test_unknown_function_fails_when_evaluated(context: dict[str, Any]) -> None:
    with pytest.raises(RehearsalError, match=r"'toJSON\(github\)'"):
        evaluate("toJSON(github)", context)


def test_format_refuses_a_missing_argument(context: dict[str, Any]) -> None:
    with pytest.raises(RehearsalError, match="format"):
        evaluate("format('{0} {1}', 'a')", context)


def test_substitute(context: dict[str, Any]) -> None:
    text = "ref=${{ github.ref_name }} ok=${{ 1 == 1 }} none=${{ github.event.number }}"
    assert substitute(text, context) == "ref=main ok=true none="
    # A }} inside a quoted string does not end the expression.
    assert substitute("${{ format('{{{0}}}', 'x') }}!", context) == "{x}!"
    assert substitute("${{ 1.5 }} ${{ 2.0 }} ${{ -0 }}", context) == "1.5 2 0"
    with pytest.raises(RehearsalError, match="object"):
        substitute("${{ github.event }}", context)
    with pytest.raises(RehearsalError, match="not closed"):
        substitute("${{ github.sha ", context)


def test_conditions_after_a_failure(tmp_path: Path, context: dict[str, Any]) -> None:
    """Without a status function an ``if:`` is ``success() && (...)``."""
    steps = [
        {"id": "plain", "run": "true"},
        {"id": "fails", "run": "exit 3"},
        *(
            {"id": f"step{number}", "if": condition, "run": "true"}
            for number, condition in enumerate(
                [
                    "github.ref_name == 'main'",
                    "success()",
                    "cancelled()",
                    "${{ !cancelled() }}",
                    "always()",
                    "failure() && steps.fails.outcome == 'FAILURE'",
                    "failure() && github.ref_name == 'other'",
                    "",
                ]
            )
        ),
    ]
    workflow = tmp_path / "w.yml"
    workflow.write_text(yaml.safe_dump({"jobs": {"job": {"if": "true", "steps": steps}}}))
    result = run_job(workflow, "job", tmp_path, context)
    ran = [step.name for step in result.steps if step.kind == "run"]
    assert ran == ["plain", "fails", "step3", "step4", "step5"]
    assert not result.succeeded


def _condition_expression(condition: Any) -> str:
    """What an ``if:`` evaluates: the inside of a whole ``${{ }}``, or the text itself."""
    text = str(condition).strip()
    spans = list(expressions(text))
    assert not spans or spans[0][:2] == (0, len(text)), f"text beside ${{{{ }}}}: {text!r}"
    return spans[0][2] if spans else text


def _conditions(document: dict[str, Any]) -> list[Any]:
    jobs = document["jobs"].values()
    steps = [step for job in jobs for step in job.get("steps", [])]
    return [entry["if"] for entry in [*jobs, *steps] if "if" in entry]


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS.glob("*.yml")), ids=lambda path: path.name)
def test_every_expression_in_the_workflows_parses(workflow: Path) -> None:
    text = workflow.read_text()
    found = [expression for _, _, expression in expressions(text)]
    found += [_condition_expression(c) for c in _conditions(yaml.safe_load(text))]
    assert found
    for expression in found:
        parse(expression)  # raises RehearsalError naming the expression


def test_a_condition_mixing_text_and_an_expression_is_refused(
    tmp_path: Path, context: dict[str, Any]
) -> None:
    # GitHub reads it as a string, always true: a mistake a rehearsal points out.
    workflow = tmp_path / "w.yml"
    step = {"if": "${{ false }} && ${{ false }}", "run": "true"}
    workflow.write_text(yaml.safe_dump({"jobs": {"job": {"steps": [step]}}}))
    with pytest.raises(RehearsalError, match="mixes text"):
        run_job(workflow, "job", tmp_path, context)
