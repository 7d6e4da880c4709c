"""``kind = "command"``: one subprocess per task, its stdout and stderr streamed as written."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from pathlib import Path

from agentfm_nb.mesh.agents.base import AgentError, Hold, StartFailed, exit_text
from agentfm_nb.mesh.agents.guard import TAG_VAR, AgentGuard, Leader

READ_SIZE = 64 * 1024
STDERR_TAIL = 4096
_F_SETPIPE_SZ = 1031  # Linux fcntl
_PIPE_SIZE = 1 << 20  # the default /proc/sys/fs/pipe-max-size
# Linux refuses one environment string over 128 KiB; the full prompt is always on stdin
MAX_ENV_PROMPT = 96 * 1024
# the one-line error a client sees keeps at most this much of the last stderr line
ERROR_LINE_CHARS = 300

# never inherited by agent subprocesses from the gateway's environment
GATEWAY_SECRETS = frozenset(
    {"AGENTFM_API_KEYS", "AGENTFM_API_KEY", "AGENTFM_WEBHOOK_SECRET", "AGENT_PRIVATE_KEY"}
)

log = logging.getLogger("agentfm_nb.mesh.agents")


class CommandAgent:
    uses_output_dir = True  # AGENTFM_OUTPUT_DIR must exist when the agent starts

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        hidden_env: Collection[str] = (),
        guard: AgentGuard | None = None,
    ) -> None:
        self.argv = list(argv)
        self.cwd = cwd
        self.env = dict(env or {})
        # the gateway's own secrets and every worker's upstream key variable
        self.hidden_env = GATEWAY_SECRETS | frozenset(hidden_env)
        self.guard = guard or AgentGuard()

    def _environ(self, prompt: str, output_dir: Path, tag: str) -> dict[str, str]:
        # Not the agent's business (a worker may still pass one on purpose through its ``env``).
        hidden = self.hidden_env
        env = {k: v for k, v in os.environ.items() if k not in hidden}
        env.update(self.env)
        env["AGENTFM_OUTPUT_DIR"] = str(output_dir)
        env["PYTHONUNBUFFERED"] = "1"
        env[TAG_VAR] = tag
        if "\x00" in prompt:  # no environment string can hold a NUL; stdin has the prompt
            env.pop("AGENTFM_PROMPT", None)
        elif len(prompt) <= MAX_ENV_PROMPT // 4 or len(prompt.encode()) <= MAX_ENV_PROMPT:
            env["AGENTFM_PROMPT"] = prompt
        else:
            env.pop("AGENTFM_PROMPT", None)
            env["AGENTFM_PROMPT_TRUNCATED"] = "1"
        return env

    async def stream(
        self, prompt: str, output_dir: Path | None, hold: Hold
    ) -> AsyncIterator[bytes]:
        assert output_dir is not None
        tag = self.guard.new_tag()
        try:
            # stderr shares stdout's pipe, as the real worker's ``cmd.Stderr = cmd.Stdout``:
            # the client sees both in the order the agent wrote them.
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.cwd,
                env=self._environ(prompt, output_dir, tag),
                start_new_session=True,
                limit=READ_SIZE,
            )
        except OSError as exc:
            raise StartFailed(
                f"cannot start agent {self.argv[0]!r}: {exc.strerror or exc}",
                detail=f"\u274c Failed to start task: {exc}",
            ) from None
        leader = Leader(proc.pid, tag)
        _widen_pipe(proc)
        assert proc.stdout is not None
        helpers = [
            asyncio.ensure_future(_feed_stdin(proc, prompt.encode("utf-8", "replace"))),
            asyncio.ensure_future(_end_with_agent(proc, leader)),
        ]
        prev = last = b""  # two reads: ``print`` may write a line's text and its newline apart
        try:
            read = proc.stdout.read
            while chunk := await read(READ_SIZE):
                prev, last = last, chunk
                yield chunk
            code = await proc.wait()
            if code != 0:
                tail = (prev[-STDERR_TAIL:] + last)[-STDERR_TAIL:]
                message = exit_message(code, tail.decode("utf-8", "replace"))
                raise AgentError(message, exit_code=code, exit=exit_text(code))
        finally:
            ended = helpers[1]
            for task in helpers:
                task.cancel()
            if not (ended.done() and not ended.cancelled() and ended.exception() is None):
                # (once the agent has exited, what it left was swept then)
                leader.kill_task()
            if proc.returncode is None and leader.no_pidfd:
                # Only without pidfds: ``Popen.kill`` first polls, which can reap the agent
                # behind asyncio's back (its watcher then logs "Unknown child process pid N").
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            await asyncio.gather(*helpers, return_exceptions=True)
            await _reap(proc)
            leader.close()

    async def aclose(self) -> None:
        return None


def exit_message(code: int, stderr_tail: str) -> str:
    """One line: how the agent ended plus the last non-empty line of its stderr."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        head = f"agent killed by {name} (exit code {code})"
    else:
        head = f"agent exited with code {code}"
    last = next((ln.strip() for ln in reversed(stderr_tail.splitlines()) if ln.strip()), "")
    if len(last) > ERROR_LINE_CHARS:
        last = "…" + last[-ERROR_LINE_CHARS:]
    return f"{head}: {last}" if last else head


async def _feed_stdin(proc: asyncio.subprocess.Process, data: bytes) -> None:
    stdin = proc.stdin
    assert stdin is not None
    try:
        if data:
            stdin.write(data)
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the agent does not read stdin; AGENTFM_PROMPT has it
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            stdin.close()


def _widen_pipe(proc: asyncio.subprocess.Process) -> None:
    """Let the agent write up to 1 MiB ahead of us (Linux pipes hold 64 KiB by default).

    An agent that prints fast would otherwise stall each time the gateway is descheduled, which
    on a busy machine costs it far more than the copy we save it.
    """
    transport = getattr(proc, "_transport", None)
    pipe = transport.get_pipe_transport(1) if transport is not None else None
    fileobj = pipe.get_extra_info("pipe") if pipe is not None else None
    if fileobj is None:
        return
    with contextlib.suppress(OSError, ValueError):
        fcntl.fcntl(fileobj.fileno(), _F_SETPIPE_SZ, _PIPE_SIZE)


async def _end_with_agent(proc: asyncio.subprocess.Process, leader: Leader) -> None:
    """Once the agent process itself exits, kill what it left (as a container's end would).

    A background child still holding the pipe would otherwise keep the stream open until the
    task timeout: ``proc.wait()`` also waits for the pipes, so the exit is watched on a pidfd.
    """
    pidfd = leader.pidfd
    if pidfd is None:  # no pidfd support (or the agent was gone before we held it): poll
        while proc.returncode is None and _alive(proc.pid):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    else:
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()

        def signal_exit() -> None:
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(pidfd, signal_exit)
        try:
            await exited
        finally:
            loop.remove_reader(pidfd)
    leader.kill_task()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2][1:2] != b"Z"
    except OSError:
        return False


async def _reap(proc: asyncio.subprocess.Process) -> None:
    # Everything holding the pipe is dead by now, so this is the exit status and nothing more.
    try:
        await asyncio.wait_for(asyncio.shield(proc.wait()), 5.0)
    except asyncio.TimeoutError:
        log.warning("agent %s (pid %d) did not go away after SIGKILL", proc.pid, proc.pid)


__all__ = ["GATEWAY_SECRETS", "CommandAgent", "exit_message"]
