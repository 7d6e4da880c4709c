"""``agentfm-nb export NOTEBOOK.ipynb [-o OUT.html]``: HTML whose widgets render offline."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a notebook as HTML whose widgets render offline",
        description="Write NOTEBOOK as HTML that renders its saved widget state with no network "
        "(require.js, the widget manager and anywidget are copied next to the page or inlined). "
        "Outputs without saved widget state fall back to their static HTML.",
    )
    parser.add_argument("notebook", type=Path, metavar="NOTEBOOK.ipynb")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="OUT.html",
        help="where to write the page (default: next to the notebook, .html)",
    )
    parser.add_argument(
        "--inline",
        action="store_true",
        help="embed the three JavaScript files in the page (one self-contained file)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from agentfm_nb.export import export_html, has_widget_state
    from agentfm_nb.export.html import read_notebook

    nb = read_notebook(args.notebook)
    out = args.output if args.output is not None else args.notebook.with_suffix(".html")
    if out.suffix != ".html" and out.is_dir():
        out = out / (args.notebook.stem + ".html")
    written = export_html(args.notebook, out, assets="inline" if args.inline else "copy")
    note = "" if has_widget_state(nb) else " (no saved widget state: static outputs only)"
    print(f"Wrote {written}{note}")
    return 0
