"""Both magics on one registry: every subcommand's bad input is one raised line, no key shown.

No gateway or chain is needed: these failures happen before (or instead of) any network use,
except the dead-endpoint cases, which use a loopback port where nothing listens.
"""

from __future__ import annotations

import pytest

from agentfm_nb.magics import COMMANDS
from agentfm_nb.ogpu.magic import OGPU
from tests.magics.conftest import Ran, Shell

ADDR = "0x" + "ab" * 20
# Shapes people paste: an OpenAI-style key, a 32-hex key, an EVM private key, a base64 token.
KEYS = (
    "sk-proj-Zq8rT1uVw2xYz3aBc4dEf5gH",
    "9aa3d95b3bc440fa88ea12eaa4456161",
    "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
    "dGhpcyBpcyBhIHNlY3JldCB0b2tlbjEyMw==",
)


def one_line(ran: Ran, magic: str) -> str:
    """The error as the user sees it: raised (the cell failed), one line, no traceback."""
    assert not ran.ok, f"expected an error, got out={ran.out!r}"
    text = ran.err.strip()
    assert "Traceback" not in text and "\n" not in text, text
    assert text.startswith((f"UsageError: %{magic}", f"UsageError: %%{magic}")), text
    return text


# One bad input per %agentfm subcommand (the registry is asserted to hold exactly these).
AGENTFM_BAD = {
    "connect": ("%agentfm connect http://[::1", "not a valid URL"),
    "gateway start": ("%agentfm gateway start --port 70000", "port out of range"),
    "gateway stop": ("%agentfm gateway stop now", "unrecognized arguments: now"),
    "gateway status": ("%agentfm gateway status -v", "unrecognized arguments: -v"),
    "workers": ("%agentfm workers -o 2x", "-o needs a Python variable name"),
    "chat": ("%%agentfm chat --model Poet\nhi {nothere:%}", "uses {nothere}"),
    "scatter": ("%%agentfm scatter --retries -1\na", "--retries must be 0 or more"),
    "run": ("%agentfm run hello", "required: --peer"),
    "history": ("%agentfm history --limit 0", "--limit must be 1 or more"),
    "dashboard": ("%agentfm dashboard --interval soon", "invalid float value: 'soon'"),
    "inspect": ("%agentfm inspect", "required: PEER"),
}

OGPU_BAD = {
    "connect": ("%ogpu connect --chain local", "required: --rpc"),
    "disconnect": ("%ogpu disconnect --all", "unrecognized arguments: --all"),
    "status": ("%ogpu status", "not connected"),
    "attempt": (f"%ogpu attempt {ADDR} {ADDR} lots", "invalid int value: 'lots'"),
    "register": (f"%ogpu register {ADDR}", "required: provider"),
    "unregister": ("%ogpu unregister", "required: source, provider"),
    "events": ("%ogpu events --from-block soon", "invalid int value: 'soon'"),
    "console": ("%ogpu console", "not connected"),
    "nonce info": ("%ogpu nonce info", "not connected"),
    "nonce reset": ("%ogpu nonce reset --all", "unrecognized arguments: --all"),
    "nonce fix": ("%ogpu nonce fix --timeout soon", "invalid float value: 'soon'"),
}


def test_every_subcommand_has_a_bad_input_case() -> None:
    assert set(AGENTFM_BAD) == set(COMMANDS)
    assert set(OGPU_BAD) == set(OGPU.commands)


@pytest.mark.parametrize("name", sorted(AGENTFM_BAD))
def test_agentfm_bad_input_is_one_raised_line(ip: Shell, name: str) -> None:
    source, needle = AGENTFM_BAD[name]
    message = one_line(ip.run(source), "agentfm")
    assert f"agentfm {name}:" in message and needle in message, message


@pytest.mark.parametrize("name", sorted(OGPU_BAD))
def test_ogpu_bad_input_is_one_raised_line(ip: Shell, name: str) -> None:
    source, needle = OGPU_BAD[name]
    message = one_line(ip.run(source), "ogpu")
    assert message.startswith(f"UsageError: %ogpu {name}:") and needle in message, message


def test_ogpu_unknown_and_help(ip: Shell) -> None:
    assert "unknown subcommand 'bogus'" in one_line(ip.run("%ogpu bogus"), "ogpu")
    assert "say info, fix or reset" in one_line(ip.run("%ogpu nonce"), "ogpu")
    for source in ("%ogpu", "%ogpu help", "%ogpu --help"):
        ran = ip.run(source)
        assert ran.ok, ran.err
        for cmd in OGPU.commands.values():
            assert f"{cmd.usage_name} " in ran.out, (source, cmd.name)
        assert "AGENT_PRIVATE_KEY" in ran.out
    for name in OGPU.commands:
        ran = ip.run(f"%ogpu {name} --help")
        assert ran.ok, ran.err
        assert ran.out.startswith(f"%ogpu {name}"), ran.out  # the usage line first
        assert "::" not in ran.out and ran.out == ip.run(f"%ogpu help {name}").out


def test_ogpu_dead_node_is_one_line(ip: Shell, dead_url: str) -> None:
    secret = KEYS[1]
    ran = ip.run(
        f"%ogpu connect --rpc {dead_url}/v3/{secret} --chain local --nexus {ADDR} "
        f"--terminal {ADDR} --no-prompt"
    )
    message = one_line(ran, "ogpu")
    assert message.startswith("UsageError: %ogpu connect:"), message
    assert secret not in ran.out + ran.err


@pytest.mark.parametrize("key", KEYS)
def test_connect_never_echoes_a_key_given_as_the_url(ip: Shell, key: str) -> None:
    for source in (f"%agentfm connect {key}", f"%agentfm connect http://127.0.0.1:9 {key}"):
        ran = ip.run(source)
        message = one_line(ran, "agentfm")
        assert key not in ran.out + ran.err, message
    assert "looks like an API key" in one_line(ip.run(f"%agentfm connect {key}"), "agentfm")


def test_connect_echoes_only_address_like_values(ip: Shell) -> None:
    word = "onlylowercaselettersxyz"  # not key-shaped, but connect takes no bare words
    ran = ip.run(f"%agentfm connect {word}")
    assert "not shown in case it is a key" in one_line(ran, "agentfm")
    assert word not in ran.out + ran.err
    assert "got 'localhost:8080'" in one_line(ip.run("%agentfm connect localhost:8080"), "agentfm")


@pytest.mark.parametrize(
    "option", ["--api-key", "--api-key=", "--token", "--key", "--private-key", "--secret"]
)
def test_a_literal_key_option_is_refused_on_every_subcommand(ip: Shell, option: str) -> None:
    key = KEYS[0]
    arg = f"{option}{key}" if option.endswith("=") else f"{option} {key}"
    sources = [f"%agentfm {name} {arg}" for name in COMMANDS]
    sources += [f"%ogpu {name} {arg}" for name in OGPU.commands]
    for source in sources:
        ran = ip.run(source)
        message = one_line(ran, source.split()[0][1:])
        assert "refusing a literal key" in message, (source, message)
        assert key not in ran.out + ran.err, source


def test_key_shaped_arguments_are_hidden_in_any_error(ip: Shell, dead_client: object) -> None:
    for key in KEYS:
        for source in (
            f"%agentfm workers {key}",  # unrecognized argument
            f"%agentfm gateway start --config {key}",  # file not found
            f"%ogpu attempt {key} {ADDR} 1",  # not connected, key as a task
            f"%agentfm chat --model {key} hi",  # the gateway is down
        ):
            ran = ip.run(source)
            one_line(ran, source.split()[0][1:])
            assert key not in ran.out + ran.err, source
            # nor in the exception kept as sys.last_value (no unscrubbed one chained to it)
            assert ran.error is not None and key not in repr(ran.error), source
            assert ran.error.__context__ is None, source


def test_values_of_key_variables_never_reach_an_error(
    ip: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "plainwordsecretvalue"  # not key-shaped: hidden because of where it lives
    monkeypatch.setenv("AGENTFM_API_KEY", secret)
    ran = ip.run(f"%agentfm workers {secret}")
    one_line(ran, "agentfm")
    assert secret not in ran.out + ran.err


@pytest.mark.parametrize(
    ("body", "x"),
    [
        ("hi {x:%}", "text"),  # a spec the value's type rejects
        ("hi {x!z}", 5),
        ("hi {}", 5),
        ("hi {0}", 5),
        ("hi {x[0]}", 5),
        ("hi {x:{y}}", 5),  # y does not exist
        ("hi {", 5),
        ("hi }", 5),
        ("{x.n}", 5),
    ],
)
def test_chat_template_garbage_is_one_line(ip: Shell, body: str, x: object) -> None:
    ip.ns["x"] = x
    ip.ns.pop("y", None)
    message = one_line(ip.run(f"%%agentfm chat --model Poet\n{body}"), "agentfm")
    assert "--no-interpolate" in message, message


def test_chat_template_fills_what_it_can(ip: Shell, dead_client: object) -> None:
    # Interpolation succeeds, so the failure is the next step (no gateway), not the template.
    ip.ns["x"] = 0.5
    message = one_line(ip.run("%%agentfm chat --model Poet\nhi {x:%} {{literal}}"), "agentfm")
    assert "reach the" in message


def test_bad_urls_are_one_line(ip: Shell) -> None:
    for url, needle in (
        ("http://[::1", "not a valid URL"),
        ("http://:8080", "no host"),
        ("http://user:pw-0123456789abcdef01@127.0.0.1:9", "refusing credentials"),
        ("http://127.0.0.1:9/?token=pw-0123456789abcdef01", "refusing credentials"),
        ("localhost:8080", "must start with http://"),
    ):
        ran = ip.run(f"%agentfm connect {url}")
        assert needle in one_line(ran, "agentfm"), url
        assert "pw-0123456789abcdef01" not in ran.out + ran.err
