"""``agentfm-nb export``: offline assets next to the page or inlined, static fallback."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from agentfm_nb.cli import main
from agentfm_nb.export import ASSETS, ExportError, export_html

VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"


def notebook_with_widget(tmp_path: Path, *, saved_state: bool) -> Path:
    output = new_output(
        "display_data",
        data={
            VIEW: {"version_major": 2, "version_minor": 0, "model_id": "m1"},
            "text/plain": "WorkerTable(4 workers)",
            "text/html": "<b>fallback table: 4 workers</b>",
        },
    )
    nb = new_notebook(cells=[new_code_cell("%agentfm workers", outputs=[output])])
    if saved_state:
        model = {
            "model_name": "AnyModel",
            "model_module": "anywidget",
            "model_module_version": "~0.9.*",
            "state": {"_esm": "export default {render() {}}", "_css": ""},
        }
        nb.metadata["widgets"] = {
            STATE: {"version_major": 2, "version_minor": 0, "state": {"m1": model}}
        }
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def test_saved_state_renders_through_local_assets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = notebook_with_widget(tmp_path, saved_state=True)
    assert main(["export", str(src), "-o", str(tmp_path / "site" / "page.html")]) == 0
    assert "Wrote" in capsys.readouterr().out
    html = (tmp_path / "site" / "page.html").read_text()
    for name in ASSETS:
        assert (tmp_path / "site" / name).stat().st_size > 1000
    assert f'<script type="{VIEW}">' in html
    assert "var widgetRendererSrc = 'embed-amd.js';" in html
    assert re.findall(r'src="(https?:[^"]+)"', html) == []


def test_missing_state_falls_back_to_static_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = notebook_with_widget(tmp_path, saved_state=False)
    assert main(["export", str(src)]) == 0
    assert "no saved widget state" in capsys.readouterr().out
    html = src.with_suffix(".html").read_text()
    assert "<b>fallback table: 4 workers</b>" in html
    assert f'<script type="{VIEW}">' not in html


def test_inline_is_one_self_contained_file(tmp_path: Path) -> None:
    src = notebook_with_widget(tmp_path, saved_state=True)
    out = export_html(src, tmp_path / "one" / "page.html", assets="inline")
    assert sorted(p.name for p in out.parent.iterdir()) == ["page.html"]
    html = out.read_text()
    assert '<script src="data:text/javascript;base64,' in html
    assert 'require.config({paths: {anywidget: "data:text/javascript;base64,' in html
    assert re.findall(r'src="(https?:[^"]+)"', html) == []


def test_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ExportError, match="notebook not found"):
        export_html(tmp_path / "missing.ipynb")
    (tmp_path / "bad.ipynb").write_text("{not json")
    assert main(["export", str(tmp_path / "bad.ipynb")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agentfm-nb: error: cannot read") and err.count("\n") == 1
