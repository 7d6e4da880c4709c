"""TOML config parsing: the documented shape, defaults and clear errors naming the bad key."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agentfm_nb.mesh.config import (
    ConfigError,
    WorkerSpec,
    demo_config,
    load_config,
    parse_config,
)

GOOD = """
seed = "s1"
task_timeout_s = 30
artifact_max_bytes = 2048
[[workers]]
name = "Echo"
engine = "echo"
author = "agentfm-nb"
description = "echo"
max_tasks = 4
kind = "python"
callable = "agentfm_nb.mesh.demo:echo"
[[workers]]
name = "Shell"
engine = "llama3.2"
author = "alice"
kind = "command"
argv = ["python3", "-u", "agent.py"]
env = { MODE = "fast" }
timeout_s = 5
[[workers]]
name = "Local LLM"
engine = "qwen2.5"
kind = "openai"
base_url = "http://127.0.0.1:11434/v1"
model = "qwen2.5"
api_key_env = "OLLAMA_KEY"
count = 3
"""


def test_parse_documented_shape(tmp_path: Path) -> None:
    cfg = parse_config(GOOD, base_dir=tmp_path)
    assert cfg.seed == "s1" and cfg.task_timeout_s == 30.0 and cfg.artifact_max_bytes == 2048
    echo, shell, llm = cfg.workers
    assert echo.kind == "python" and echo.max_tasks == 4
    assert shell.argv == ["python3", "-u", "agent.py"] and shell.cwd == tmp_path
    assert shell.env == {"MODE": "fast"} and shell.timeout_s == 5.0 and shell.max_tasks == 1
    assert llm.kind == "openai" and llm.count == 3 and llm.api_key_env == "OLLAMA_KEY"
    assert echo.honesty_score == 0.5 and echo.online is True and echo.hardware is None


def test_load_config_from_file_and_kind_inference(tmp_path: Path) -> None:
    path = tmp_path / "mesh.toml"
    path.write_text('[[workers]]\nname = "A"\nengine = "e"\nargv = ["x"]\n')
    cfg = load_config(path)
    assert cfg.workers[0].kind == "command" and cfg.task_timeout_s == 600.0
    assert cfg.artifact_max_bytes == 100 * 1024 * 1024
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('bogus = 1\n[[workers]]\nname="A"\nengine="e"\nargv=["x"]', "unknown key 'bogus'"),
        ('[[workers]]\nname="A"\nengine="e"\nargv=["x"]\ncolour="red"', "unknown key 'colour'"),
        ('[[workers]]\nname="A"\nengine="e"\nkind="docker"', "unknown kind 'docker'"),
        ('[[workers]]\nname="A"\nengine="e"\nkind="command"', "needs 'argv'"),
        ('[[workers]]\nname="A"\nengine="e"\nkind="command"\nargv=[]', "needs 'argv'"),
        ('[[workers]]\nname="A"\nengine="e"\nkind="python"\ncallable="nocolon"', "module:func"),
        ('[[workers]]\nname="A"\nkind="openai"\nbase_url="ftp://x"\nmodel="m"', "base_url"),
        ('[[workers]]\nname="A"\nengine="e"\nargv=["x"]\nmax_tasks=0', "max_tasks"),
        ('[[workers]]\nname="A"\nengine="e"\nargv=["x"]\nmax_tasks=true', "max_tasks"),
        ('[[workers]]\nname="A"\nengine="e"\nargv=["x"]\ncount=0', "count"),
        ('[[workers]]\nname="A"\nengine="e"\nargv=["x"]\nhonesty_score=2', "honesty_score"),
        ('[[workers]]\nengine="e"\nargv=["x"]', "missing required key 'name'"),
        ("seed = 1", "'seed' must be str"),
        ("seed = 'x'", "no [[workers]]"),
        ("[[workers", "invalid TOML"),
        ('[[workers]]\nname="A"\nengine="e"\nargv=["x"]\n[[workers]]\nname="A"\nengine="f"\n'
         'argv=["y"]', "duplicate worker name 'A'"),
    ],
)  # fmt: skip
def test_config_errors_name_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, base_dir=tmp_path)
    assert needle in err.value.message
    assert err.value.code == "config_error"


def test_demo_config_shape() -> None:
    cfg = demo_config()
    by_name = {w.name: w for w in cfg.workers}
    assert set(by_name) == {"Echo", "Poet", "Scribe", "Analyst"}
    assert (by_name["Echo"].engine, by_name["Echo"].author, by_name["Echo"].max_tasks) == (
        "echo",
        "agentfm-nb",
        8,
    )
    assert (by_name["Poet"].engine, by_name["Poet"].author) == ("llama3.2", "alice")
    assert (by_name["Scribe"].engine, by_name["Scribe"].author) == ("qwen2.5", "bob")
    assert (by_name["Analyst"].engine, by_name["Analyst"].author) == ("llama3.2", "carol")
    assert by_name["Poet"].argv is not None and by_name["Poet"].argv[0] == sys.executable
    assert cfg.seed is not None


async def test_python_import_error_is_a_config_error(tmp_path: Path) -> None:
    from agentfm_nb.mesh.runtime import Mesh

    cfg = parse_config(
        '[[workers]]\nname="A"\nengine="e"\ncallable="no_such_module_xyz:run"', base_dir=tmp_path
    )
    mesh = Mesh(cfg, artifacts_dir=tmp_path / "a", work_dir=tmp_path / "w")
    with pytest.raises(ConfigError, match="no_such_module_xyz"):
        await mesh.start()
    await mesh.aclose()


def test_worker_repr_shows_no_credentials() -> None:
    spec = WorkerSpec(
        name="LLM",
        engine="e",
        kind="openai",
        base_url="http://user:hunter2-secret@127.0.0.1:1/v1",
        model="m",
        env={"TOKEN": "tok-secret-value"},
    )
    text = repr(spec)
    assert "hunter2-secret" not in text and "tok-secret-value" not in text
    assert "LLM" in text
