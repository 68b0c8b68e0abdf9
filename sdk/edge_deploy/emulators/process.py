"""Emulator processes that never outlive their owner, and loopback ports to expose UARTs on.

Each emulator runs in its own process group, so stopping it also stops anything it spawned. It
is killed when its context manager exits (normally, on an exception, on Ctrl-C or SIGTERM), by an
atexit hook if the interpreter exits with it still running, and by the kernel (PR_SET_PDEATHSIG)
if the Python process itself is killed. Its log folder carries the owner's process id, so the
next run removes a folder whose owner was killed outright (``edge_deploy.fsutil.remove_stale``).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading

from edge_deploy.fsutil import owned_temp_dir

_PR_SET_PDEATHSIG = 1
LOG_DIR_PREFIX = "edge-deploy-emu-"
_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it). Another
    process may take it before the emulator binds it: callers retry on "address in use"."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_accepts(port: int, timeout: float = 0.2) -> bool:
    """True if something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _die_with_parent(parent_pid: int) -> None:
    # Runs in the child between fork and exec: ask the kernel for SIGKILL when the parent dies.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent is already gone


class EmulatorProcess:
    """A started emulator process with its stdout/stderr going to files in a temporary folder.

    ``stdio``: a socket to give the emulator as its stdin and stdout instead (QEMU's semihosting
    link); stderr still goes to the log.

    Note: with PR_SET_PDEATHSIG the process dies when the *thread* that started it exits, so
    start and use an emulator in a thread that lives as long as the emulator does.
    """

    def __init__(self, command: list[str], *, cwd: str | os.PathLike | None = None,
                 stdio: socket.socket | None = None) -> None:
        self.command = command
        self._log_dir = owned_temp_dir(LOG_DIR_PREFIX)
        self.stdout_path = self._log_dir / "stdout.log"
        self.stderr_path = self._log_dir / "stderr.log"
        parent = os.getpid()
        try:
            with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
                self.popen = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL if stdio is None else stdio,
                    stdout=out if stdio is None else stdio,
                    stderr=err,
                    cwd=cwd,
                    start_new_session=True,
                    preexec_fn=lambda: _die_with_parent(parent),
                )
        except BaseException:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            raise
        with _live_lock:
            _live.add(self.popen)

    @property
    def pid(self) -> int:
        """Process id of the emulator."""
        return self.popen.pid

    def running(self) -> bool:
        """True while the process has not exited."""
        return self.popen.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit; return its exit status. Raises subprocess.TimeoutExpired."""
        return self.popen.wait(timeout)

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended (negative: killed by that signal), else None."""
        return self.popen.poll()

    def output(self, limit: int = 4000) -> str:
        """The last ``limit`` characters of stderr and stdout, for error messages."""
        parts = []
        for path in (self.stderr_path, self.stdout_path):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").strip()
                if text:
                    parts.append(text[-limit:])
        return "\n".join(parts)

    def stop(self, grace: float = 1.0) -> int | None:
        """Kill the process group (SIGTERM, then SIGKILL after ``grace`` s), reap it and remove
        the logs. Safe to call twice. Returns the exit status."""
        _kill_group(self.popen, grace)
        with _live_lock:
            _live.discard(self.popen)
        shutil.rmtree(self._log_dir, ignore_errors=True)
        return self.popen.returncode


def _kill_group(popen: subprocess.Popen, grace: float) -> None:
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGTERM)
        try:
            popen.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()


@atexit.register
def _kill_leftovers() -> None:
    with _live_lock:
        leftovers = list(_live)
        _live.clear()
    for popen in leftovers:
        _kill_group(popen, 0.5)
