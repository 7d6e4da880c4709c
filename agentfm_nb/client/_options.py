"""Construction options shared by the twins (and used to derive one twin from the other)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agentfm_nb.client._shared import (
    DEFAULT_GATEWAY,
    UNSET,
    _Unset,
    normalize_gateway_url,
    resolve_api_key,
)
from agentfm_nb.client._transport import make_timeout


@dataclass(frozen=True, slots=True)
class ClientOptions:
    gateway_url: str
    timeout: httpx.Timeout
    retries: int
    artifacts_dir: Path | None
    api_key: str | None = field(repr=False)

    @classmethod
    def build(
        cls,
        gateway_url: str = DEFAULT_GATEWAY,
        timeout: float | httpx.Timeout | None = None,
        retries: int = 2,
        artifacts_dir: str | Path | None = None,
        api_key: str | _Unset | None = UNSET,
    ) -> ClientOptions:
        return cls(
            gateway_url=normalize_gateway_url(gateway_url),
            timeout=make_timeout(timeout),
            retries=max(0, int(retries)),
            artifacts_dir=Path(artifacts_dir).expanduser() if artifacts_dir is not None else None,
            api_key=resolve_api_key(api_key),
        )

    def derive(
        self,
        *,
        gateway_url: str | _Unset = UNSET,
        timeout: float | httpx.Timeout | _Unset | None = UNSET,
        retries: int | _Unset = UNSET,
        artifacts_dir: str | Path | _Unset | None = UNSET,
        api_key: str | _Unset | None = UNSET,
    ) -> ClientOptions:
        """Unset options are inherited; ``api_key=None`` drops auth on the derived client."""
        return ClientOptions.build(
            gateway_url=self.gateway_url if isinstance(gateway_url, _Unset) else gateway_url,
            timeout=self.timeout if isinstance(timeout, _Unset) else timeout,
            retries=self.retries if isinstance(retries, _Unset) else retries,
            artifacts_dir=(
                self.artifacts_dir if isinstance(artifacts_dir, _Unset) else artifacts_dir
            ),
            api_key=self.api_key if isinstance(api_key, _Unset) else api_key,
        )
