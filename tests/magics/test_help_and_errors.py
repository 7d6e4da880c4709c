"""``--help`` for every subcommand and one-line errors (bad usage, no gateway, literal keys)."""

from __future__ import annotations

import pytest

from agentfm_nb.magics import COMMANDS
from tests.magics.conftest import Shell


def test_help_overview_lists_every_subcommand(ip: Shell) -> None:
    for source in ("%agentfm help", "%agentfm", "%agentfm --help"):
        ran = ip.run(source)
        assert ran.ok, ran.err
        for name, cmd in COMMANDS.items():
            assert f"{cmd.usage_name} " in ran.out, (source, name)
        assert "--wait" in ran.out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_subcommand_has_readable_help(ip: Shell, name: str) -> None:
    cmd = COMMANDS[name]
    ran = ip.run(f"%agentfm {name} --help")
    assert ran.ok, ran.err
    first = ran.out.splitlines()[0]
    assert first.startswith(cmd.usage_name), first  # usage line first, no reST "::"
    assert cmd.handler.__doc__ is not None
    assert "options:" in ran.out or not cmd.parser._actions  # no options, no section
    assert ip.run(f"%agentfm help {name}").out == ran.out


def test_cell_help_ignores_the_body(ip: Shell) -> None:
    ran = ip.run("%%agentfm scatter --help\nnot sent anywhere")
    assert ran.ok and "--from DF[COL]" in ran.out


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("%agentfm bogus", "unknown subcommand 'bogus'"),
        ("%agentfm gateway", "say start, stop or status"),
        ("%agentfm workers --bogus", "unrecognized arguments: --bogus"),
        ("%agentfm scatter --concurrency x", "invalid int value"),
        ("%agentfm gateway start --backend docker", "invalid choice"),
        ("%agentfm workers -o 1abc", "-o needs a Python variable name"),
        ("%%agentfm workers\nbody", "takes no cell body"),
        ("%agentfm run --peer 12D3KooWabc", "the following arguments are required"),
    ],
)
def test_usage_errors_are_one_line(ip: Shell, source: str, needle: str) -> None:
    message = ip.run(source).one_line_error()
    assert needle in message


def test_no_gateway_is_one_line(ip: Shell, dead_client: object, dead_url: str) -> None:
    for source in ("%agentfm workers", "%agentfm workers -o w", "%agentfm run --peer x hi"):
        message = ip.run(source).one_line_error()
        assert "reach the" in message and dead_url in message, message
        assert "%agentfm gateway start" in message  # says what to do next
    message = ip.run(f"%agentfm connect {dead_url}").one_line_error()
    assert "reach the" in message


def test_connect_refuses_a_literal_key(ip: Shell) -> None:
    secret = "sk-literal-0123456789abcdef0123"
    for source in (
        f"%agentfm connect http://127.0.0.1:9 --api-key {secret}",
        f"%agentfm connect --api-key={secret}",
        f"%agentfm connect --token {secret}",
    ):
        ran = ip.run(source)
        message = ran.one_line_error()
        assert "refusing a literal key" in message
        assert secret not in ran.out + ran.err


def test_api_key_env_never_echoes_a_key_like_value(ip: Shell) -> None:
    secret = "Zq8rT1uVw2xYz3aBc4dEf5gHi6jKl7mN"
    ran = ip.run(f"%agentfm connect http://127.0.0.1:9 --api-key-env {secret}")
    message = ran.one_line_error()
    assert "NAME of an environment variable" in message
    assert secret not in ran.out + ran.err
    message = ip.run("%agentfm connect --api-key-env MISSING_AGENTFM_VAR").one_line_error()
    assert "MISSING_AGENTFM_VAR is not set" in message


def test_connect_rejects_a_non_http_url(ip: Shell) -> None:
    assert "http://" in ip.run("%agentfm connect ftp://x").one_line_error()


def test_help_points_to_ogpu_and_groups_gateway(ip: Shell) -> None:
    out = ip.run("%agentfm help").out
    assert "%ogpu" in out and "%ogpu --help" in out
    assert "Examples:" in out and "agent name" in out
    for source in ("%agentfm gateway --help", "%agentfm help gateway"):
        ran = ip.run(source)
        assert ran.ok, ran.err
        for sub in ("start", "stop", "status"):
            assert f"%agentfm gateway {sub} " in ran.out
    # reST markup of IPython's formatter never reaches the user
    for name in COMMANDS:
        assert "<{" not in ip.run(f"%agentfm {name} --help").out, name


def test_load_ext_registers_the_accessor_without_importing_pandas() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'agentfm_nb')\n"
        "assert 'pandas' not in sys.modules, 'pandas imported by %load_ext'\n"
        "import pandas as pd\n"
        "print(type(pd.DataFrame({'q': ['x']}).agentfm).__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "AgentFMAccessor"
