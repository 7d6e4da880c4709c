"""``agentfm-nb quickstart``: run the quickstart notebook end to end and export it.

Executes ``01_quickstart.ipynb`` in a fresh kernel (it starts its own embedded gateway with
``%agentfm gateway start``), saves the executed notebook and an offline HTML export into an
output folder, and prints what happened.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

NOTEBOOK = "01_quickstart.ipynb"

# Run in the notebook's kernel after the last cell; reads the variables the notebook stored.
_PROBE = """
import json as _json
def _agentfm_quickstart_summary():
    ns = globals()
    out = {}
    w = ns.get("workers_df")
    if w is not None:
        out["workers"] = [str(n) for n in w["name"]] if "name" in w else [""] * len(w)
    r = ns.get("reply")
    if r is not None:
        out["reply"] = str(getattr(r, "text", r))
    s = ns.get("results_df")
    if s is not None:
        out["rows"] = int(len(s))
        out["ok"] = int((s["status"] == "success").sum()) if "status" in s else None
    return out
print(_json.dumps(_agentfm_quickstart_summary()))
del _agentfm_quickstart_summary
"""


def notebooks_dir() -> Path:
    """The bundled notebooks: inside the installed package, else the source checkout's."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "notebooks", here.parent / "notebooks"):
        if (candidate / NOTEBOOK).is_file():
            return candidate
    raise FileNotFoundError(f"{NOTEBOOK} not found next to the package ({here})")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "quickstart",
        help="run the quickstart notebook against an embedded gateway and export it",
        description="Execute notebooks/01_quickstart.ipynb in a fresh kernel (it starts its own "
        "embedded gateway), then write the executed notebook and an offline HTML export.",
    )
    parser.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=Path("agentfm_quickstart"),
        metavar="DIR",
        help="where to write the executed notebook and the HTML (default: ./agentfm_quickstart)",
    )
    parser.add_argument(
        "--timeout", type=float, default=180.0, metavar="S", help="per-cell timeout in seconds"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import nbformat

    from agentfm_nb.export import export_html
    from agentfm_nb.export.execute import NotebookRunError, execute_notebook

    out_dir: Path = args.output_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    src = notebooks_dir() / NOTEBOOK
    executed_path = out_dir / NOTEBOOK
    print(f"Running {NOTEBOOK} (embedded gateway, demo mesh)...", flush=True)
    try:
        result = execute_notebook(src, cwd=out_dir, timeout=args.timeout, probe=_PROBE)
    except NotebookRunError as exc:
        nbformat.write(exc.notebook, executed_path)  # type: ignore[no-untyped-call]
        print(f"agentfm-nb: error: quickstart {exc.message}", file=sys.stderr)
        print(f"  the partly executed notebook is in {executed_path}", file=sys.stderr)
        return 1
    nbformat.write(result.notebook, executed_path)  # type: ignore[no-untyped-call]
    html = export_html(executed_path, executed_path.with_suffix(".html"))
    summary = _parse_summary(result.probe_output)
    workers = summary.get("workers", [])
    reply = " ".join(str(summary.get("reply", "")).split())
    if len(reply) > 70:
        reply = reply[:67] + "..."
    print(f"Done in {result.seconds:.1f} s.")
    print(f"  workers seen : {len(workers)} ({', '.join(workers)})")
    print(f"  chat reply   : {reply!r}")
    print(f"  scatter rows : {summary.get('rows', 0)} ({summary.get('ok', 0)} succeeded)")
    print(f"  notebook     : {_rel(executed_path)}")
    print(f"  HTML         : {_rel(html)} (renders offline; open it in a browser)")
    return 0


def _parse_summary(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
