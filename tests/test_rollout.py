"""``mlops.gitops.rollout`` against a real ``mlops serve``: the wait returns only once the service
reports the pinned version and folder hash, and fails in time, saying what it saw, otherwise."""

from __future__ import annotations

import io
import itertools
import json
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mlops import artifact, http
from mlops.errors import MlopsError
from mlops.gitops import rollout
from mlops.serving.serving_process import free_port
from tests.serving import Server, serving

TOKEN = "s3cret"
SHORT = {"timeout": 1.0, "interval": 0.2, "token": TOKEN}  # failures: bounded, quick
SEE_OLD_S = 60  # generous: how long the success test waits for the first polls


@pytest.fixture(scope="module")
def folders(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The trained model, and a new one with other bytes (another threshold): the service
    names each by its folder's sha256."""
    root = tmp_path_factory.mktemp("rollout")
    old, new = root / "old", root / "new"
    shutil.copytree(trained_project / "model", old)
    shutil.copytree(old, new)
    metadata = artifact.metadata(new)
    metadata["threshold"] = metadata["threshold"] / 2
    (new / artifact.METADATA_FILE).write_text(json.dumps(metadata))
    return {"old": old, "new": new}


@pytest.fixture(scope="module")
def server(folders: dict[str, Path]) -> Iterator[Server]:
    """One guarded service for the module, on the old model."""
    project = folders["old"].parent
    shutil.copytree(folders["old"], project / "model")
    with serving(project, env={"MLOPS_API_TOKEN": TOKEN}) as running:
        yield running


@contextmanager
def round_robin(*upstreams: str) -> Iterator[str]:
    """A loopback stand-in for a Kubernetes Service: each GET goes to the next pod in turn."""
    turn = itertools.cycle(upstreams)

    class Forward(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = httpx.get(next(turn) + self.path, headers=dict(self.headers), timeout=10)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers["content-type"])
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, *_: object) -> None:
            pass

    with http.in_background(ThreadingHTTPServer(("127.0.0.1", 0), Forward)) as url:
        yield url


def pinned(folder: Path) -> tuple[str, str]:
    """The version a folder serves under without ``--version``, and its sha256."""
    digest = artifact.digest(folder)
    return digest[:12], digest


def reload_to(server: Server, folder: Path) -> None:
    """Put ``folder``'s files in the served folder and reload: the service's own swap."""
    shutil.copytree(folder, server.cwd / "model", dirs_exist_ok=True)
    answer = httpx.post(
        f"{server.url}/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )
    assert answer.status_code == 200, answer.text


def progress(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The wait's lines on stderr, readable while it runs in another thread. Called in the
    test's body: pytest puts its own capture back on ``sys.stderr`` after the fixtures."""
    lines = io.StringIO()
    monkeypatch.setattr(sys, "stderr", lines)
    return lines


def test_the_wait_returns_only_after_the_reload_to_the_pinned_model(
    server: Server, folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = progress(monkeypatch)
    old_version, old_sha = pinned(folders["old"])
    version, sha = pinned(folders["new"])
    wait = {"timeout": 120.0, "interval": 0.2, "token": TOKEN}
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(rollout.wait_for_rollout, server.url, version, sha, **wait)
        deadline = time.monotonic() + SEE_OLD_S
        while stderr.getvalue().count(f"version {old_version} sha256 {old_sha}") < 2:
            assert time.monotonic() < deadline, stderr.getvalue()
            time.sleep(0.05)
        assert not waiting.done()  # the old model answers: still waiting
        try:
            reload_to(server, folders["new"])
            answer = waiting.result(timeout=130)
        finally:
            reload_to(server, folders["old"])
    assert answer == {
        "url": server.url,
        "model_version": version,
        "model_sha256": sha,
        "seconds": answer["seconds"],
    }
    *before, last = stderr.getvalue().splitlines()
    assert any(line.endswith(f"version {old_version} sha256 {old_sha}") for line in before)
    assert last.endswith(f"version {version} sha256 {sha} (3/3)")


def test_a_model_already_served_is_confirmed_without_the_long_interval(
    server: Server, folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The confirming polls come every second, not every ``interval``: a release whose model
    already serves waits about two seconds, where three 60-second polls would take two minutes."""
    stderr = progress(monkeypatch)
    version, sha = pinned(folders["old"])
    answer = rollout.wait_for_rollout(
        server.url, version, sha, timeout=30, interval=60, token=TOKEN
    )
    assert answer["model_sha256"] == sha
    assert answer["seconds"] < 30  # the 60 s interval never ran: the deadline would have failed it
    assert stderr.getvalue().splitlines()[-1].endswith("(3/3)")


def test_the_wait_fails_in_time_while_the_old_model_serves(
    server: Server, folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = progress(monkeypatch)
    old_version, old_sha = pinned(folders["old"])
    version, sha = pinned(folders["new"])
    started = time.monotonic()
    with pytest.raises(MlopsError) as failure:
        rollout.wait_for_rollout(server.url, version, sha, **SHORT)
    assert time.monotonic() - started < SHORT["timeout"] + rollout.REQUEST_TIMEOUT_S
    assert f"did not serve version {version} sha256 {sha} within 1 s" in str(failure.value)
    assert str(failure.value).endswith(f"last seen: version {old_version} sha256 {old_sha}")
    assert stderr.getvalue().splitlines()[-1].endswith(f"version {old_version} sha256 {old_sha}")


def test_the_same_version_with_other_bytes_is_not_the_pinned_model(
    server: Server, folders: dict[str, Path]
) -> None:
    old_version, old_sha = pinned(folders["old"])
    _, other_sha = pinned(folders["new"])
    with pytest.raises(MlopsError, match=f"last seen: version {old_version} sha256 {old_sha}"):
        rollout.wait_for_rollout(server.url, old_version, other_sha, **SHORT)


def test_a_service_that_is_not_up_yet_is_reported_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stderr = progress(monkeypatch)
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MlopsError, match="last seen: unreachable"):
        rollout.wait_for_rollout(url, "v1", "0" * 64, **SHORT)
    lines = stderr.getvalue().splitlines()
    assert lines
    assert all(": unreachable: " in line for line in lines)


def test_mid_rollout_one_new_pod_is_not_enough(
    server: Server, folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Polls alternate between a pod on the new model and one still on the old: every other
    poll matches, never the settled three in a row, so the wait fails and says so."""
    stderr = progress(monkeypatch)
    version, sha = pinned(folders["new"])
    project = folders["new"].parent / "new-pod"
    shutil.copytree(folders["new"], project / "model")
    with (
        serving(project, env={"MLOPS_API_TOKEN": TOKEN}) as new_pod,
        round_robin(server.url, new_pod.url) as service,
    ):
        with pytest.raises(MlopsError, match="did not serve version"):
            rollout.wait_for_rollout(service, version, sha, **{**SHORT, "timeout": 2.0})
        assert rollout.wait_for_rollout(new_pod.url, version, sha, **SHORT)["model_sha256"] == sha
    lines = stderr.getvalue().splitlines()
    assert any(line.endswith(f"version {version} sha256 {sha} (1/3)") for line in lines)
    assert not any(line.endswith("(2/3)") for line in lines[:-3])
