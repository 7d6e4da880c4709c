"""The embedded mesh's worker declarations: dataclasses, TOML parsing and the demo mesh."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from agentfm_nb.errors import AgentFMError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

AgentKind = Literal["command", "python", "openai"]
KINDS: tuple[str, ...] = ("command", "python", "openai")
DEFAULT_TASK_TIMEOUT_S = 600.0
DEFAULT_ARTIFACT_MAX_BYTES = 100 * 1024 * 1024
MAX_REPLICAS = 100_000


class ConfigError(AgentFMError):
    """The mesh configuration is malformed; the message names the offending key."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="config_error")


@dataclass
class WorkerSpec:
    """One worker declaration (``count`` > 1 replicates it as ``"<name> #i"``)."""

    name: str
    engine: str
    author: str = "agentfm-nb"
    description: str = ""
    max_tasks: int = 1
    hardware: str | None = None
    kind: AgentKind = "python"
    argv: list[str] | None = None
    callable: str | None = None
    # may carry ``user:password@``; kept out of reprs, as ``env`` (a worker's own secrets)
    base_url: str | None = field(default=None, repr=False)
    model: str | None = None
    api_key_env: str | None = None
    timeout_s: float | None = None
    count: int = 1
    online: bool = True
    honesty_score: float = 0.5
    env: dict[str, str] = field(default_factory=dict, repr=False)
    cwd: Path | None = None  # command agents run here; defaults to the config file's folder

    def __post_init__(self) -> None:
        validate_worker(self)


@dataclass
class MeshConfig:
    workers: list[WorkerSpec]
    seed: str | None = None
    task_timeout_s: float = DEFAULT_TASK_TIMEOUT_S
    artifact_max_bytes: int = DEFAULT_ARTIFACT_MAX_BYTES
    state_dir: Path | None = None
    telemetry_interval_s: float = 2.0

    def __post_init__(self) -> None:
        if self.task_timeout_s <= 0:
            raise ConfigError("task_timeout_s must be > 0")
        if self.artifact_max_bytes <= 0:
            raise ConfigError("artifact_max_bytes must be > 0")
        if self.telemetry_interval_s <= 0:
            raise ConfigError("telemetry_interval_s must be > 0")
        names: set[str] = set()
        for spec in self.workers:
            for name in expanded_names(spec):
                if name in names:
                    raise ConfigError(f"duplicate worker name {name!r}")
                names.add(name)


def expanded_names(spec: WorkerSpec) -> list[str]:
    """The worker names a spec turns into (``count`` replicas are ``"<name> #1"``...)."""
    if spec.count == 1:
        return [spec.name]
    return [f"{spec.name} #{i}" for i in range(1, spec.count + 1)]


def validate_worker(spec: WorkerSpec) -> None:
    where = f"worker {spec.name!r}"
    if not isinstance(spec.name, str) or not spec.name.strip():
        raise ConfigError("worker 'name' must be a non-empty string")
    if not isinstance(spec.engine, str) or not spec.engine.strip():
        raise ConfigError(f"{where}: 'engine' must be a non-empty string")
    if spec.kind not in KINDS:
        raise ConfigError(
            f"{where}: unknown kind {spec.kind!r} (expected one of {', '.join(KINDS)})"
        )
    if (
        isinstance(spec.max_tasks, bool)
        or not isinstance(spec.max_tasks, int)
        or spec.max_tasks < 1
    ):
        raise ConfigError(f"{where}: 'max_tasks' must be an integer >= 1")
    if isinstance(spec.count, bool) or not isinstance(spec.count, int):
        raise ConfigError(f"{where}: 'count' must be an integer")
    if not 1 <= spec.count <= MAX_REPLICAS:
        raise ConfigError(f"{where}: 'count' must be between 1 and {MAX_REPLICAS}")
    if not 0.0 <= float(spec.honesty_score) <= 1.0:
        raise ConfigError(f"{where}: 'honesty_score' must be within [0, 1]")
    if spec.timeout_s is not None and spec.timeout_s <= 0:
        raise ConfigError(f"{where}: 'timeout_s' must be > 0")
    if spec.kind == "command":
        if (
            not isinstance(spec.argv, list)
            or not spec.argv
            or not all(isinstance(a, str) for a in spec.argv)
        ):
            raise ConfigError(f"{where}: kind 'command' needs 'argv', a non-empty list of strings")
    elif spec.kind == "python":
        text = spec.callable
        if not isinstance(text, str) or text.count(":") != 1 or not all(text.split(":")):
            raise ConfigError(f"{where}: kind 'python' needs 'callable' as 'module:function'")
    else:
        if not isinstance(spec.base_url, str) or not spec.base_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError(f"{where}: kind 'openai' needs 'base_url' (http:// or https://)")
        if not isinstance(spec.model, str) or not spec.model:
            raise ConfigError(f"{where}: kind 'openai' needs 'model'")
    if not isinstance(spec.env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in spec.env.items()
    ):
        raise ConfigError(f"{where}: 'env' must be a table of strings")


# TOML key -> accepted python types (bool is refused where a number is wanted)
_WORKER_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "engine": (str,),
    "author": (str,),
    "description": (str,),
    "max_tasks": (int,),
    "hardware": (str,),
    "kind": (str,),
    "argv": (list,),
    "callable": (str,),
    "base_url": (str,),
    "model": (str,),
    "api_key_env": (str,),
    "timeout_s": (int, float),
    "count": (int,),
    "online": (bool,),
    "honesty_score": (int, float),
    "env": (dict,),
    "cwd": (str,),
}
_TOP_TYPES: dict[str, tuple[type, ...]] = {
    "seed": (str,),
    "task_timeout_s": (int, float),
    "artifact_max_bytes": (int,),
    "state_dir": (str,),
    "telemetry_interval_s": (int, float),
    "workers": (list,),
}
assert set(_WORKER_TYPES) == {f.name for f in fields(WorkerSpec)}


def _check_type(where: str, key: str, value: Any, types: tuple[type, ...]) -> None:
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        wanted = " or ".join(t.__name__ for t in types)
        raise ConfigError(f"{where}: {key!r} must be {wanted}, got {type(value).__name__}")


def _infer_kind(raw: dict[str, Any]) -> str:
    present = [
        k
        for k, key in (("command", "argv"), ("python", "callable"), ("openai", "base_url"))
        if key in raw
    ]
    if len(present) == 1:
        return present[0]
    return "<missing>"


def _worker_from_table(raw: Any, index: int, base_dir: Path) -> WorkerSpec:
    where = f"workers[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    for key, value in raw.items():
        if key not in _WORKER_TYPES:
            raise ConfigError(f"{where}: unknown key {key!r}")
        _check_type(where, key, value, _WORKER_TYPES[key])
    for key in ("name", "engine") if raw.get("kind") != "openai" else ("name",):
        if key not in raw:
            raise ConfigError(f"{where}: missing required key {key!r}")
    kwargs: dict[str, Any] = dict(raw)
    kwargs.setdefault("kind", _infer_kind(raw))
    if kwargs["kind"] == "openai":
        kwargs.setdefault("engine", raw.get("model") or "")
    for key in ("timeout_s", "honesty_score"):
        if key in kwargs:
            kwargs[key] = float(kwargs[key])
    if "cwd" in kwargs:
        kwargs["cwd"] = (base_dir / kwargs["cwd"]).resolve()
    elif kwargs["kind"] in ("command", "python"):
        kwargs["cwd"] = base_dir
    try:
        return WorkerSpec(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None


def parse_config(text: str, *, base_dir: Path) -> MeshConfig:
    """Parse a mesh TOML document; relative paths are taken from ``base_dir``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}") from None
    for key, value in data.items():
        if key not in _TOP_TYPES:
            raise ConfigError(f"unknown key {key!r}")
        _check_type("config", key, value, _TOP_TYPES[key])
    workers = [_worker_from_table(w, i, base_dir) for i, w in enumerate(data.get("workers", []))]
    if not workers:
        raise ConfigError("no [[workers]] declared")
    state_dir = data.get("state_dir")
    return MeshConfig(
        workers=workers,
        seed=data.get("seed"),
        task_timeout_s=float(data.get("task_timeout_s", DEFAULT_TASK_TIMEOUT_S)),
        artifact_max_bytes=int(data.get("artifact_max_bytes", DEFAULT_ARTIFACT_MAX_BYTES)),
        state_dir=(base_dir / state_dir).resolve() if state_dir else None,
        telemetry_interval_s=float(data.get("telemetry_interval_s", 2.0)),
    )


def load_config(path: Path) -> MeshConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read mesh config {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"mesh config {str(path)!r} is not UTF-8 text") from None
    try:
        return parse_config(text, base_dir=path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}") from None


def _demo_argv(module: str) -> list[str]:
    return [sys.executable, "-u", "-m", f"agentfm_nb.mesh.demo_agents.{module}"]


def demo_config(*, seed: str | None = "agentfm-nb-demo") -> MeshConfig:
    """The default demo mesh: deterministic agents, no LLM, stable peer ids."""
    return MeshConfig(
        seed=seed,
        workers=[
            WorkerSpec(
                name="Echo",
                engine="echo",
                author="agentfm-nb",
                description="Echoes the prompt back at once",
                max_tasks=8,
                kind="python",
                callable="agentfm_nb.mesh.demo:echo",
            ),
            WorkerSpec(
                name="Poet",
                engine="llama3.2",
                author="alice",
                description="Streams a short poem about the prompt, one line at a time",
                max_tasks=4,
                kind="command",
                argv=_demo_argv("poet"),
            ),
            WorkerSpec(
                name="Scribe",
                engine="qwen2.5",
                author="bob",
                description="Writes report.md about the prompt to its output folder",
                max_tasks=4,
                kind="command",
                argv=_demo_argv("scribe"),
            ),
            WorkerSpec(
                name="Analyst",
                engine="llama3.2",
                author="carol",
                description="Deterministic text statistics of the prompt",
                max_tasks=4,
                kind="python",
                callable="agentfm_nb.mesh.demo:analyst",
            ),
        ],
    )


__all__ = [
    "KINDS",
    "AgentKind",
    "ConfigError",
    "MeshConfig",
    "WorkerSpec",
    "demo_config",
    "expanded_names",
    "load_config",
    "parse_config",
]
