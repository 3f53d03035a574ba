"""``mlops serve`` in a child process on a free loopback port: the one way the platform (the
release rehearsals, the lifecycle replay) and its tests start a real service and wait for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlops.errors import MlopsError

READY_TIMEOUT_S = 120
MLOPS = str(Path(sys.executable).parent / "mlops")


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v2/health/ready", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


class ServiceProcess:
    """``mlops serve OPTIONS`` started in ``cwd``, its output kept in a temporary log."""

    def __init__(self, cwd: Path, *options: str, env: dict[str, str] | None = None) -> None:
        self.cwd = cwd
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by close()
            "w+", prefix="mlops-serve-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            [MLOPS, "serve", "--port", str(self.port), *options],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return Path(self._log.name).read_text()

    def wait_ready(self, seconds: float = READY_TIMEOUT_S) -> None:
        """Return once the service answers ready; an ``MlopsError`` with its output if it exits
        or is not ready in time."""
        deadline = time.monotonic() + seconds
        while not _ready(self.url):
            if self.process.poll() is not None:
                raise MlopsError(f"mlops serve exited {self.process.returncode}:\n{self._tail()}")
            if time.monotonic() > deadline:
                raise MlopsError(f"mlops serve was not ready in {seconds} s:\n{self._tail()}")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop it with ``sig`` (SIGTERM: the collector flushes on the way out); its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def close(self) -> None:
        """Stop it and remove its log."""
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    def _tail(self) -> str:
        return self.output()[-3000:]


@contextmanager
def serving(
    cwd: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[ServiceProcess]:
    """A ready service until the block ends."""
    service = ServiceProcess(cwd, *options, env=env)
    try:
        service.wait_ready()
        yield service
    finally:
        service.close()
