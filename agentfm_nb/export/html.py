"""Notebook -> HTML that renders its saved widgets offline (no CDN at view time).

nbconvert's lab template fetches require.js, the widget manager (``embed-amd.js``) and the
``anywidget`` AMD module from public CDNs. Here they come from ``agentfm_nb/static/export/``
(built with the widgets) instead: copied next to the page, or inlined as ``data:`` URLs so
the page is one self-contained file. Outputs whose widget state was not saved fall back to
their ``text/html`` / ``text/plain`` representation (nbconvert's own widget filter).
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any, Literal

from agentfm_nb.errors import AgentFMError

ASSETS = ("require.js", "embed-amd.js", "anywidget.js")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

# Extends nbconvert's lab template, dropping the MathJax and Mermaid CDN script tags.
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


class ExportError(AgentFMError):
    """The notebook cannot be exported (missing file, bad JSON, front-end not built)."""


def assets_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "static" / "export"


def _asset_paths() -> dict[str, Path]:
    base = assets_dir()
    paths = {name: base / name for name in ASSETS}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if missing:
        raise ExportError(
            f"the widget front-end is not built ({', '.join(missing)} missing in {base}); "
            "reinstall the package with Node available (pip install -e .) or run npm run build",
            code="assets_missing",
        )
    return paths


def _data_url(path: Path) -> str:
    return "data:text/javascript;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def read_notebook(path: Path) -> Any:
    import nbformat

    if not path.is_file():
        raise ExportError(f"notebook not found: {path}", code="not_found")
    try:
        return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    except Exception as exc:  # nbformat raises several unrelated types for a bad file
        raise ExportError(f"cannot read {path} as a notebook: {exc}", code="bad_notebook") from None


def has_widget_state(nb: Any) -> bool:
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {})
    return bool(state.get("state"))


def export_html(
    notebook: str | Path | Any,
    out: str | Path | None = None,
    *,
    assets: Literal["copy", "inline"] = "copy",
) -> Path:
    """Write ``notebook`` as offline HTML; returns the path written.

    ``notebook`` is a path or an already-loaded ``NotebookNode`` (then ``out`` is required).
    ``assets="copy"`` puts require.js, embed-amd.js and anywidget.js next to the page (the
    widget manager loads ``anywidget`` as ``./anywidget.js``); ``"inline"`` embeds them.
    """
    from nbconvert import HTMLExporter

    if isinstance(notebook, (str, Path)):
        src = Path(notebook)
        nb = read_notebook(src)
        target = Path(out) if out is not None else src.with_suffix(".html")
        name = src.stem
    else:
        if out is None:
            raise ExportError("out is required when exporting a notebook object")
        nb, target = notebook, Path(out)
        name = target.stem
    if assets not in ("copy", "inline"):
        raise ValueError(f"assets must be 'copy' or 'inline', not {assets!r}")
    paths = _asset_paths()
    target.parent.mkdir(parents=True, exist_ok=True)

    if assets == "inline":
        require_url, renderer_url = _data_url(paths["require.js"]), _data_url(paths["embed-amd.js"])
    else:
        require_url, renderer_url = "require.js", "embed-amd.js"
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="lab",
        template_file="agentfm_offline.html.j2",
        extra_loaders=[_loader()],
        require_js_url=require_url,
        widget_renderer_url=renderer_url,
    )
    body, _resources = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
    if assets == "inline":
        # require.js (2.3+) takes a data: URL as a module path; embed-amd asks require.js for
        # "anywidget" before any CDN, so this resolves it without a request.
        # nbconvert writes the renderer URL twice (current and legacy widget state): keep one
        # copy of the 3.6 MB data: URL in a variable instead.
        config = (
            "<script>require.config({paths: {anywidget: "
            f'"{_data_url(paths["anywidget.js"])}"'
            f'}}}});\nwindow.agentfmEmbedAmd = "{renderer_url}";</script>'
        )
        tag = f'<script src="{require_url}"></script>'
        if tag not in body:
            raise ExportError("unexpected nbconvert template output (require.js tag not found)")
        body = body.replace(f"'{renderer_url}'", "window.agentfmEmbedAmd")
        body = body.replace(tag, tag + config, 1)
    else:
        for path in paths.values():
            shutil.copyfile(path, target.parent / path.name)
    target.write_text(body, encoding="utf-8")
    return target


def _loader() -> Any:
    import jinja2

    return jinja2.DictLoader({"agentfm_offline.html.j2": _TEMPLATE})
