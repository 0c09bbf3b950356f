"""What the launcher and the run worker say to each other: one JSON line each way over a Unix socket.

Request ``{"execute_run": <serialized ExecuteRunArgs>}``; answer ``{"pid": N}`` when a child is running the
run, or ``{"refused": reason}`` when the launcher should start the run the default way instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from pathlib import Path

from sync_assets.process_tree import stat_fields

SOCKET_NAME = "run_worker.sock"
# sun_path is 108 bytes on Linux (104 on macOS); deep DAGSTER_HOMEs (pytest's tmp paths) do not fit.
_MAX_SOCKET_PATH = 100
_MAX_LINE = 16 * 1024 * 1024


class WorkerUnavailable(Exception):
    """The run worker is not running, did not answer in time, or refused this run."""


def socket_path(dagster_home: str | os.PathLike[str]) -> Path:
    """Where the worker for this Dagster instance listens: in DAGSTER_HOME, or a digest-named temp path."""
    home = Path(dagster_home).resolve()
    path = home / SOCKET_NAME
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(home)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"sync-assets-{digest}.sock"


def send_line(conn: socket.socket, message: dict) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


def read_line(conn: socket.socket) -> dict:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n") or size > _MAX_LINE:
            break
    data = b"".join(chunks)
    if not data.endswith(b"\n"):
        raise WorkerUnavailable(f"incomplete message ({len(data)} bytes)")
    message = json.loads(data)
    if not isinstance(message, dict):
        raise WorkerUnavailable(f"unexpected message {message!r:.200}")
    return message


def is_listening(path: Path) -> bool:
    """Whether a run worker accepts connections at ``path`` (a probe it answers by ignoring)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(os.fspath(path))
        except OSError:
            return False
    return True


def request_run(path: Path, serialized_args: str, timeout: float = 5.0) -> int:
    """Ask the worker at ``path`` to execute a run; the pid of the process running it.

    Raises :class:`WorkerUnavailable` for every reason the run should be launched another way.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(os.fspath(path))
            send_line(conn, {"execute_run": serialized_args})
            answer = read_line(conn)
    except (OSError, ValueError) as exc:
        raise WorkerUnavailable(f"no run worker at {path}: {exc}") from exc
    if "pid" in answer and isinstance(answer["pid"], int):
        return answer["pid"]
    raise WorkerUnavailable(f"run worker refused: {answer.get('refused', answer)}")


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, exited but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = stat_fields(pid)  # None without /proc: then the signal's answer stands
    return fields is None or fields[0] != "Z"
