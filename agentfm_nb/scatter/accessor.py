"""``df.agentfm``: scatter a DataFrame column of prompts over the mesh.

    df["answer"] = df.agentfm.scatter("question", model="llama3.2")

Registered when this module is imported (``agentfm_nb.client`` imports it).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from agentfm_nb.scatter.results import ScatterResult


def _register() -> None:
    with warnings.catch_warnings():
        # Re-importing (autoreload) re-registers the same accessor; pandas warns about that.
        warnings.simplefilter("ignore", UserWarning)
        pd.api.extensions.register_dataframe_accessor("agentfm")(AgentFMAccessor)


class AgentFMAccessor:
    """Row-wise prompts → scatter → results aligned to the frame's index."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def _prompts(self, column: str | None, template: str | None) -> list[str]:
        frame = self._frame
        if template is not None:
            records = frame.to_dict(orient="records")
            try:
                return [template.format(**{str(k): v for k, v in row.items()}) for row in records]
            except KeyError as exc:
                raise KeyError(f"template names a column the frame lacks: {exc}") from None
        if column is None:
            raise TypeError("give a prompt column name or template=")
        if column not in frame.columns:
            raise KeyError(f"no column {column!r} in the frame (columns: {list(frame.columns)})")
        values = frame[column]
        if bool(values.isna().any()):
            raise ValueError(f"column {column!r} has missing prompts; fill or drop them first")
        return [str(v) for v in values]

    def _run(
        self,
        column: str | None,
        *,
        template: str | None,
        model: str | None,
        peer_ids: Sequence[str] | None,
        client: Any,
        max_concurrency: int | None,
        max_retries: int,
        **options: Any,
    ) -> list[ScatterResult]:
        prompts = self._prompts(column, template)
        if (model is None) == (peer_ids is None):
            raise TypeError("give exactly one of model= or peer_ids=")
        if client is None:
            # Imported by name: the client package imports this module at load time.
            default = importlib.import_module("agentfm_nb.client._default")
            client = default.get_default_client()
        if not prompts:
            return []
        if model is not None:
            rows = client.tasks.scatter_by_model(
                prompts,
                model=model,
                max_concurrency=max_concurrency,
                max_retries=max_retries,
                **options,
            )
        else:
            rows = client.tasks.scatter(
                prompts,
                peer_ids=list(peer_ids or ()),
                max_concurrency=max_concurrency,
                max_retries=max_retries,
                **options,
            )
        return list(rows)

    def scatter(
        self,
        column: str | None = None,
        *,
        template: str | None = None,
        model: str | None = None,
        peer_ids: Sequence[str] | None = None,
        client: Any = None,
        max_concurrency: int | None = None,
        max_retries: int = 2,
        **options: Any,
    ) -> pd.Series[Any]:
        """Answers as a string Series aligned to the frame's index; failures are NA.

        ``template="Summarise: {title}"`` builds each prompt from the row's columns instead.
        """
        rows = self._run(
            column,
            template=template,
            model=model,
            peer_ids=peer_ids,
            client=client,
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            **options,
        )
        texts = [r.text if r.status == "success" else None for r in rows]
        return pd.Series(texts, index=self._frame.index, dtype="string", name="answer")

    def scatter_frame(
        self,
        column: str | None = None,
        *,
        template: str | None = None,
        model: str | None = None,
        peer_ids: Sequence[str] | None = None,
        client: Any = None,
        max_concurrency: int | None = None,
        max_retries: int = 2,
        **options: Any,
    ) -> pd.DataFrame:
        """The full result frame (status, text, worker_id, error, ...) on the frame's index."""
        from agentfm_nb.scatter.frames import results_to_dataframe

        rows = self._run(
            column,
            template=template,
            model=model,
            peer_ids=peer_ids,
            client=client,
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            **options,
        )
        frame = results_to_dataframe(rows)
        frame.index = self._frame.index
        return frame


_register()

__all__ = ["AgentFMAccessor"]
