"""Export executed notebooks as HTML whose widgets render offline."""

from __future__ import annotations

from agentfm_nb.export.html import ASSETS, ExportError, assets_dir, export_html, has_widget_state

__all__ = ["ASSETS", "ExportError", "assets_dir", "export_html", "has_widget_state"]
