"""Helpers to run the bundled notebooks with nbclient and read their saved outputs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

# A developer's own gateway settings must not leak into the kernels these tests start.
CLEAN_ENV: dict[str, str | None] = {
    "AGENTFM_API_KEY": None,
    "AGENTFM_API_KEYS": None,
    "AGENTFM_GATEWAY_URL": None,
    "AGENTFM_WEBHOOK_SECRET": None,
    "AGENTFM_WEBHOOK_ALLOW_PRIVATE": None,
}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def output_text(output: Any) -> str:
    if output.get("output_type") == "stream":
        return str(output.get("text", ""))
    if output.get("output_type") == "error":
        return _ANSI.sub("", "\n".join(output.get("traceback", [])))
    data = output.get("data", {})
    return "\n".join(str(data.get(k, "")) for k in ("text/plain", "text/html"))


def cell(nb: Any, source_prefix: str) -> Any:
    """The first code cell whose source starts with ``source_prefix``."""
    for c in nb.cells:
        if c.cell_type == "code" and c.source.lstrip().startswith(source_prefix):
            return c
    raise AssertionError(f"no cell starting with {source_prefix!r}")


def cell_text(nb: Any, source_prefix: str) -> str:
    return "\n".join(output_text(o) for o in cell(nb, source_prefix).outputs)


def widget_models(nb: Any) -> dict[str, Any]:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return dict(state.get("state", {}))


def shown(nb: Any, source_prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The widget a cell displayed: its saved display data and its saved model (state)."""
    for output in cell(nb, source_prefix).outputs:
        view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
        if view is not None:
            model = widget_models(nb).get(view["model_id"])
            assert model is not None, f"no saved state for the widget of {source_prefix!r}"
            return dict(output["data"]), dict(model)
    raise AssertionError(f"{source_prefix!r} displayed no widget")


def saved_column(model: Any, *path: str) -> bytes:
    """A binary column (e.g. ``_cells/cols/state/data``) from a saved widget model."""
    import base64

    for buf in model.get("buffers", []):
        if tuple(buf["path"]) == path:
            return base64.b64decode(buf["data"])
    raise AssertionError(f"no saved buffer at {path}")


def assert_no_errors(nb: Any) -> None:
    for c in nb.cells:
        for o in c.get("outputs", []):
            assert o.get("output_type") != "error", output_text(o)
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                assert "Error" not in o["text"] and "Traceback" not in o["text"], o["text"]
