"""What the widget browser tests share: a mesh config with agents that echo, fail and write
files, the notebook that shows every widget, and in-page checks (contrast, DOM churn, layout)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ECHO = "import sys; sys.stdout.write(sys.stdin.read())"
BROKEN = "import sys; print('starting', flush=True); sys.exit(3)"
WRITER = (
    "import os, pathlib; out = pathlib.Path(os.environ['AGENTFM_OUTPUT_DIR']);"
    " (out / 'report.md').write_text('# Report\\n\\nall good\\n'); print('wrote report.md')"
)
CROWD = 12  # more workers than the scatter legend's colours


def mesh_toml() -> str:
    py = sys.executable
    rows = [
        ("Echo", "echo", ECHO, True),
        ("Broken", "broken", BROKEN, True),
        ("Writer", "writer", WRITER, True),
        ("Sleeper", "echo", ECHO, False),  # declared offline: shown and counted as such
    ] + [(f"Crowd-{i:02d}", "crowd", ECHO, True) for i in range(CROWD)]
    out = ['seed = "widget-tests"']
    for name, engine, code, online in rows:
        out.append(
            "[[workers]]\n"
            f'name = "{name}"\nengine = "{engine}"\nauthor = "tests"\nkind = "command"\n'
            f"argv = {json.dumps([py, '-c', code])}\nmax_tasks = 2\n"
            f"online = {'true' if online else 'false'}\n"
        )
    return "\n".join(out)


CELLS = [
    "from agentfm_nb.gateway import LocalMeshGateway\n"
    "from agentfm_nb.client import AgentFMClient\n"
    "from agentfm_nb.widgets import ChatWidget, GatewayPanel, ScatterGrid, WorkerTable\n"
    "gw = LocalMeshGateway(port=0, backend='embedded', config='mesh.toml',"
    " artifacts_dir='artifacts').start()\n"
    "client = AgentFMClient(gw.url, artifacts_dir=gw.artifacts_dir)\n"
    "GatewayPanel(gw)",
    "table = WorkerTable(client, interval=0.5)\ntable",
    "chat = ChatWidget(client, model='Echo')\nchat",
    "grid = ScatterGrid([f'prompt {i}' for i in range(60)], client=client, model='crowd')\n"
    "grid.start().result(timeout=120)\ngrid",
    "broken = ChatWidget(client, model='Broken')\nbroken.send('go').result(timeout=60)\nbroken",
    "writer = ChatWidget(client, model='Writer')\nwriter.send('write').result(timeout=60)\nwriter",
]


def write_notebook(root: Path, name: str = "widgets.ipynb") -> str:
    (root / "mesh.toml").write_text(mesh_toml())
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": src,
                "metadata": {},
                "outputs": [],
                "execution_count": None,
            }
            for src in CELLS
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / name).write_text(json.dumps(nb))
    return name


_CHECKS = (Path(__file__).parent / "_widget_checks.js").read_text()


def _check(page: Any, name: str, arg: Any) -> Any:
    """Run one of ``_widget_checks.js``'s functions in the page (loaded on first use)."""
    if not page.evaluate("Boolean(window.afmChecks)"):
        page.evaluate(_CHECKS)
    return page.evaluate(f"(arg) => window.afmChecks.{name}(arg)", arg)


def contrast(page: Any, sel: str = ".afm") -> dict[str, Any]:
    result: dict[str, Any] = _check(page, "contrast", sel)
    return result


def churn(page: Any, sel: str, ms: int = 3000) -> int:
    return int(_check(page, "churn", [sel, ms]))


def align(page: Any, root: str = ".afm-wt") -> dict[str, Any]:
    result: dict[str, Any] = _check(page, "align", root)
    return result


def set_output_width(page: Any, px: int) -> None:
    """Make every output area exactly ``px`` wide (what a 960 or 640 px notebook gives)."""
    _check(page, "width", px)
    page.wait_for_timeout(400)
