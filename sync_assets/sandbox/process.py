"""Run the sandbox server as a child process on a free port: what the tests and the benchmarks share.

The server is started on port 0 so two sessions (pytest-xdist workers, a benchmark next to a test run)
never fight over 8765; only the server knows the port it got, so it is read from the line it prints.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sync_assets.sandbox.control_client import SandboxControl

STARTUP_SECONDS = 60.0
_LISTENING = re.compile(r"listening on (http://\S+)")


@dataclass(frozen=True)
class SandboxProcess:
    url: str  # base URL; NetSuite under /services/rest, Shopify under /admin/api/<version>
    data_dir: Path  # holds NetSuite's M2M key pair (netsuite/)
    log_path: Path  # the server's stderr (its log)
    process: subprocess.Popen

    @property
    def control(self) -> SandboxControl:
        return SandboxControl(self.url)


def sandbox_args(data_dir: Path, catalog: Mapping[str, int], extra: Sequence[str] = ()) -> list[str]:
    """The command line of a quiet sandbox: no living shop, no faults, the given starting catalog."""
    return [
        sys.executable, "-m", "sync_assets.sandbox",
        "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir),
        "--seed", str(catalog["seed"]), "--products", str(catalog["products"]),
        "--variants-per-product", str(catalog["variants_per_product"]),
        "--customers", str(catalog["customers"]), "--locations", str(catalog["locations"]),
        "--orders-per-minute", "0", "--fault-profile", "none",
        *extra,
    ]  # fmt: skip


def _read_url(process: subprocess.Popen, log_path: Path, timeout: float) -> str:
    """The URL the server prints once bound, read from its stdout (which is then drained for good)."""
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            match = _LISTENING.search(line)
            if match and not found:
                found.append(match.group(1))
            # keep draining so a chatty server never blocks on a full pipe

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited with {process.returncode} before serving:\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait(10)
            raise RuntimeError(f"sandbox did not start within {timeout}s:\n{log_path.read_text()}")
        time.sleep(0.02)
    return found[0]


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM (the server shuts down cleanly on it), then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


@contextmanager
def running_sandbox(
    root: Path,
    catalog: Mapping[str, int],
    *,
    extra_args: Sequence[str] = (),
    startup_seconds: float = STARTUP_SECONDS,
) -> Iterator[SandboxProcess]:
    """Start a sandbox under ``root`` (data dir and ``server.log``), wait until it is healthy, stop it on exit.

    ``SANDBOX_*`` variables are dropped from the child's environment so a developer's shell settings
    cannot change what a test or benchmark measures.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    data_dir = root / "data"
    log_path = root / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            sandbox_args(data_dir, catalog, extra_args), stdout=subprocess.PIPE, stderr=log, text=True, env=env
        )
    try:
        url = _read_url(process, log_path, startup_seconds)
        SandboxControl(url).wait_until_healthy(startup_seconds)
        yield SandboxProcess(url, data_dir, log_path, process)
    finally:
        stop(process)
