"""The agent guard: a sidecar that kills a gateway's agents once the gateway is gone.

``python -I -S guard.py FD TAG_PREFIX``: stdlib only and run by path, so it starts in a few
milliseconds without importing the package. The gateway holds the write end of a pipe whose
read end is ``FD`` here. When the gateway dies in any way (``kill -9``, the OOM killer), the
kernel closes its end, the read returns EOF, and the guard SIGKILLs every process whose
environment carries the gateway's tag (children that called ``setsid()`` left the group but
keep the environment), with the group of each one that leads a group, then exits. A
parent-death signal per agent would do part of this, but arming it needs a ``preexec_fn``, which
turns each spawn from a ~0.5 ms vfork into a full fork (~10 ms for a 300 MB gateway), and it
would not reach the agent's own children anyway.

No process or group is ever signalled by a bare number: a pid is only a name until it is held
by a pidfd, and once a process is reaped its pid (and so its group id) can go to an unrelated
process, often another agent that leads a group of its own. So each victim is held by a pidfd
and checked again through it before the kill, and a group is killed only while its leader is
held alive (stopped first, so it cannot exit and be reaped in between).

The gateway side is :class:`AgentGuard` (one per mesh), which tags each task's processes, and
:class:`Leader`, which holds one task's agent and kills what the task left behind.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import signal
import subprocess
import sys
import uuid

TAG_VAR = "AGENTFM_NB_AGENT_TAG"
_ROUNDS = 5  # re-scan: a process may fork while we kill its parent


class _Stat:
    """The fields of ``/proc/PID/stat`` that tell one process from a later one with its pid."""

    __slots__ = ("pgid", "ppid", "start", "zombie")

    def __init__(self, raw: bytes) -> None:
        # after the ``(comm)`` field, which may itself hold spaces and parentheses
        fields = raw.rpartition(b")")[2].split()
        self.zombie = fields[0] == b"Z"
        self.ppid = int(fields[1])
        self.pgid = int(fields[2])
        self.start = int(fields[19])  # clock ticks after boot

    def same(self, other: _Stat | None) -> bool:
        return other is not None and (other.start, other.pgid) == (self.start, self.pgid)


def _read(path: str) -> bytes:
    # os.open/os.read: a sweep reads two small files per process, and a buffered file costs more
    fd = os.open(path, os.O_RDONLY)
    try:
        return _read_all(fd)
    finally:
        os.close(fd)


def _stat(pid: int) -> _Stat | None:
    try:
        return _Stat(_read(f"/proc/{pid}/stat"))
    except (OSError, ValueError, IndexError):
        return None


def _group_of(pid: int) -> int | None:
    """The process group of a live process (None when gone or a zombie); cheaper than _stat."""
    try:
        state, _, pgid, _ = _read(f"/proc/{pid}/stat").rpartition(b")")[2].split(None, 3)
        return None if state == b"Z" else int(pgid)
    except (OSError, ValueError):
        return None


def _environ(pid: int) -> bytes:
    try:
        return b"\0" + _read(f"/proc/{pid}/environ")
    except OSError:  # gone, or another user's process
        return b""


def _read_all(fd: int) -> bytes:
    parts = []
    while chunk := os.read(fd, 65536):
        parts.append(chunk)
    return b"".join(parts)


def _needle(prefix: str) -> bytes:
    return f"\0{TAG_VAR}={prefix}".encode()


def _exited(pidfd: int) -> bool:
    """A pidfd polls readable once its process has exited (reaped or not)."""
    poller = select.poll()  # not select(): a busy gateway's fds pass FD_SETSIZE
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):  # gone, or no pidfd (Linux < 5.3): not signalled
        return None


def _kill_held(pidfd: int, pid: int) -> None:
    """SIGKILL the process held by ``pidfd`` and, if it leads one, its whole group.

    The group id is the leader's pid, so it names our group only while the leader cannot be
    reaped: the leader is stopped first and the group killed only if it has not exited.
    """
    try:
        st = _stat(pid)
        if st is not None and st.pgid == pid and not st.zombie:
            signal.pidfd_send_signal(pidfd, signal.SIGSTOP)
            if not _exited(pidfd):
                os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    finally:  # never left stopped
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)  # signal 0: nothing is sent
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def sweep(prefix: str, group: int | None = None, group_start: int | None = None) -> int:
    """SIGKILL every process tagged ``prefix``, and the members of ``group`` (an exited task
    leader's pid, first seen at ``group_start``) when that group is still the task's own.
    Returns how many processes were signalled.
    """
    needle = _needle(prefix)
    me = os.getpid()
    killed = 0
    ours = False
    for _ in range(_ROUNDS):
        # While any member is left the kernel keeps the group's id from being handed out again,
        # so a group with no live process under the leader's pid is still the task's. Its
        # members are looked for only if the group exists at all (rarely, after the exit sweep).
        if group is not None:
            holder = _stat(group)
            ours = (holder is None or holder.start == group_start) and _group_exists(group)
        found: list[tuple[int, _Stat]] = []
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == me:
                continue
            pid = int(name)
            member = ours and pid != group and _group_of(pid) == group
            if member or needle in _environ(pid):
                st = _stat(pid)
                if st is not None and not st.zombie:
                    found.append((pid, st))
        if not found:
            break
        for pid, st in found:
            pidfd = _pidfd(pid)
            if pidfd is None:
                continue
            try:
                # through the pidfd now: still the process we chose, not a new one with its pid
                if st.same(_stat(pid)) and not _exited(pidfd):
                    _kill_held(pidfd, pid)
                    killed += 1
            finally:
                os.close(pidfd)
    return killed


class Leader:
    """One task's agent process, held by a pidfd from its spawn until the task is over.

    asyncio may reap the agent the moment it exits (its default child watcher on 3.8-3.11 is a
    thread blocked in ``waitpid``), after which its pid is free for anyone: the pidfd is the
    only name for the agent that cannot come to mean another process.
    """

    __slots__ = ("no_pidfd", "pid", "pidfd", "start", "tag")

    def __init__(self, pid: int, tag: str) -> None:
        self.pid = pid
        self.tag = tag
        self.start: int | None = None
        self.pidfd: int | None = None
        self.no_pidfd = False  # the system has none (Linux < 5.3): nothing can be held
        try:
            self.pidfd = os.pidfd_open(pid)
        except ProcessLookupError:  # reaped before we held it: no group left under this pid
            return
        except (OSError, AttributeError):
            self.no_pidfd = True
            return
        # Still our child: it carries the task's unique tag, or has dropped its environment on
        # its way out (exiting, or a zombie).
        st = _stat(pid)
        env = _environ(pid)
        mine = st is not None and st.ppid == os.getpid()
        if st is None or not (mine and (_needle(tag + "\0") in env + b"\0" or len(env) <= 1)):
            os.close(self.pidfd)
            self.pidfd = None
            return
        self.start = st.start

    def exited(self) -> bool:
        return self.pidfd is None or _exited(self.pidfd)

    def kill(self) -> None:
        """SIGKILL the agent and, while it is still held alive, its whole group."""
        if self.pidfd is not None and not self.exited():
            _kill_held(self.pidfd, self.pid)

    def kill_task(self) -> None:
        """SIGKILL what the task left: its group, and anything else carrying its tag."""
        self.kill()
        group = self.pid if self.start is not None else None
        sweep(self.tag + "\0", group, self.start)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class AgentGuard:
    """The gateway's end: task tags, and the sidecar for when we die."""

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


def main(argv: list[str]) -> int:
    fd, prefix = int(argv[0]), argv[1]
    # Signals meant for the gateway's terminal or group are not for the guard.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        while os.read(fd, 65536):
            pass
    # Every agent leads a group and carries the tag, so its group goes with it.
    sweep(prefix)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
