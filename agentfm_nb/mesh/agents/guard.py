"""The agent guard: a sidecar that kills a gateway's agents once the gateway is gone.

``python -I -S guard.py FD TAG_PREFIX``: stdlib only and run by path, so it starts in a few
milliseconds without importing the package. The gateway holds the write end of a pipe whose
read end is ``FD`` here and writes ``+PGID`` / ``-PGID`` lines as agents start and end. When the
gateway dies in any way (``kill -9``, the OOM killer), the kernel closes its end, the read
returns EOF, and the guard SIGKILLs every process group still listed plus every process whose
environment carries the gateway's tag (children that called ``setsid()`` left the group but
keep the environment), then exits. A parent-death signal per agent would do part of this, but
arming it needs a ``preexec_fn``, which turns each spawn from a ~0.5 ms vfork into a full fork
(~10 ms for a 300 MB gateway), and it would not reach the agent's own children anyway.

The gateway side is :class:`AgentGuard` (one per mesh), which also tags each task's processes
and kills what a task left behind when its agent exits.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import uuid

TAG_VAR = "AGENTFM_NB_AGENT_TAG"
_ROUNDS = 5  # re-scan: a process may fork while we kill its parent


def tagged_pids(prefix: str) -> list[int]:
    """Pids of this user's processes whose environment has ``TAG_VAR=<prefix>...``."""
    needle = f"\0{TAG_VAR}={prefix}".encode()
    me = os.getpid()
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid == me:
            continue
        try:
            fd = os.open(f"/proc/{name}/environ", os.O_RDONLY)
        except OSError:  # gone, or another user's process
            continue
        try:
            data = b"\0" + _read_all(fd)
        except OSError:
            continue
        finally:
            os.close(fd)
        if needle in data:
            found.append(pid)
    return found


def _read_all(fd: int) -> bytes:
    parts = []
    while chunk := os.read(fd, 65536):
        parts.append(chunk)
    return b"".join(parts)


def kill_tagged(prefix: str) -> int:
    """SIGKILL every process tagged ``prefix`` (and its group, when it leads one)."""
    killed = 0
    for _ in range(_ROUNDS):
        pids = tagged_pids(prefix)
        if not pids:
            break
        for pid in pids:
            killed += 1
            try:
                if os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    return killed


class AgentGuard:
    """The gateway's end: task tags, per-task clean-up, and the sidecar for when we die."""

    def __init__(self) -> None:
        self.prefix = f"{uuid.uuid4().hex[:16]}."
        self._seq = itertools.count()
        self._fd: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the sidecar (idempotent); without it only a clean shutdown reaps agents."""
        if self._proc is not None:
            return
        read_fd, write_fd = os.pipe()
        env = {k: v for k, v in os.environ.items() if k != TAG_VAR}
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.abspath(__file__), str(read_fd), self.prefix],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(read_fd,),
                start_new_session=True,  # a Ctrl-C or killpg aimed at the gateway misses it
                env=env,
                close_fds=True,
            )
        except OSError:
            os.close(write_fd)
            return
        finally:
            os.close(read_fd)
        self._fd = write_fd

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def new_tag(self) -> str:
        return f"{self.prefix}{next(self._seq)}"

    def _send(self, line: bytes) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, line)
        except OSError:  # the sidecar died: we still clean up after each task ourselves
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def watch(self, pgid: int) -> None:
        self._send(b"+%d\n" % pgid)

    def unwatch(self, pgid: int) -> None:
        self._send(b"-%d\n" % pgid)

    def close(self) -> None:
        """Stop the sidecar: it sweeps the tag once more and exits."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def kill_task(pgid: int, tag: str) -> None:
    """SIGKILL what one task left: its process group and anything else carrying its tag."""
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGKILL)
    kill_tagged(tag + "\0")


def main(argv: list[str]) -> int:
    fd, prefix = int(argv[0]), argv[1]
    # Signals meant for the gateway's terminal or group are not for the guard.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    groups: set[int] = set()
    pending = b""
    try:
        while chunk := os.read(fd, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line[:1] == b"+":
                    groups.add(int(line[1:]))
                elif line[:1] == b"-":
                    groups.discard(int(line[1:]))
    except (OSError, ValueError):
        pass
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    kill_tagged(prefix)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
