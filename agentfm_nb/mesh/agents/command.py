"""``kind = "command"``: one subprocess per task, its stdout streamed line by line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from agentfm_nb.mesh.agents.base import AgentError, LineSplitter

READ_SIZE = 256 * 1024
STDERR_TAIL = 4096
# after the agent itself exits, grandchildren still holding its stdout get this long
EXIT_GRACE_S = 0.5
# Linux refuses one environment string over 128 KiB; the full prompt is always on stdin
MAX_ENV_PROMPT = 96 * 1024
# the one-line error a client sees keeps at most this much of the last stderr line
ERROR_LINE_CHARS = 300

# never inherited by agent subprocesses from the gateway's environment
GATEWAY_SECRETS = frozenset(
    {"AGENTFM_API_KEYS", "AGENTFM_API_KEY", "AGENTFM_WEBHOOK_SECRET", "AGENT_PRIVATE_KEY"}
)

log = logging.getLogger("agentfm_nb.mesh.agents")


def kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the agent's whole process group (it is its own session leader)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class CommandAgent:
    uses_output_dir = True  # AGENTFM_OUTPUT_DIR must exist when the agent starts

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.cwd = cwd
        self.env = dict(env or {})

    def _environ(self, prompt: str, output_dir: Path) -> dict[str, str]:
        # The gateway's own secrets are not the agent's business (a worker may still pass one
        # on purpose through its configured ``env``).
        env = {k: v for k, v in os.environ.items() if k not in GATEWAY_SECRETS}
        env.update(self.env)
        env["AGENTFM_OUTPUT_DIR"] = str(output_dir)
        env["PYTHONUNBUFFERED"] = "1"
        if "\x00" in prompt:  # no environment string can hold a NUL; stdin has the prompt
            env.pop("AGENTFM_PROMPT", None)
        elif len(prompt) <= MAX_ENV_PROMPT // 4 or len(prompt.encode()) <= MAX_ENV_PROMPT:
            env["AGENTFM_PROMPT"] = prompt
        else:
            env.pop("AGENTFM_PROMPT", None)
            env["AGENTFM_PROMPT_TRUNCATED"] = "1"
        return env

    async def stream(self, prompt: str, output_dir: Path | None) -> AsyncIterator[list[str]]:
        assert output_dir is not None
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.cwd,
                env=self._environ(prompt, output_dir),
                start_new_session=True,
                limit=READ_SIZE,
            )
        except OSError as exc:
            raise AgentError(
                f"cannot start agent {self.argv[0]!r}: {exc.strerror or exc}"
            ) from None
        assert proc.stdout is not None and proc.stderr is not None
        helpers = [
            asyncio.ensure_future(_feed_stdin(proc, prompt.encode())),
            asyncio.ensure_future(_reap_group(proc)),
        ]
        stderr_task = asyncio.ensure_future(_tail(proc.stderr))
        try:
            splitter = LineSplitter()
            while chunk := await proc.stdout.read(READ_SIZE):
                lines = splitter.feed(chunk)
                if lines:
                    yield lines
            rest = splitter.flush()
            if rest:
                yield rest
            code = await proc.wait()
            kill_group(proc)
            try:
                err = await asyncio.wait_for(asyncio.shield(stderr_task), 2.0)
            except asyncio.TimeoutError:
                err = ""
            if code != 0:
                message = exit_message(code, err)
                if err.strip():  # the whole tail goes to the gateway log, one line to the client
                    log.warning("%s; stderr tail of %s:\n%s", message, self.argv[0], err.rstrip())
                raise AgentError(message, exit_code=code)
        finally:
            kill_group(proc)
            for task in (*helpers, stderr_task):
                task.cancel()
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
            await asyncio.gather(*helpers, stderr_task, return_exceptions=True)

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


async def _reap_group(proc: asyncio.subprocess.Process) -> None:
    # A grandchild that inherited stdout would keep the stream open after the agent exits.
    await proc.wait()
    await asyncio.sleep(EXIT_GRACE_S)
    kill_group(proc)


async def _tail(reader: asyncio.StreamReader) -> str:
    buf = bytearray()
    while chunk := await reader.read(65536):
        buf += chunk
        if len(buf) > STDERR_TAIL:
            del buf[:-STDERR_TAIL]
    return buf.decode("utf-8", "replace")


__all__ = ["CommandAgent", "exit_message", "kill_group"]
