"""What the sync and async clients share: construction, options, ``with_options`` and repr.

Only the connection differs between the twins, so each one supplies ``_connect``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import httpx

from agentfm_nb.client._accessor import ensure_accessor
from agentfm_nb.client._options import ClientOptions
from agentfm_nb.client._shared import DEFAULT_GATEWAY, UNSET, _Unset
from agentfm_nb.client.artifacts import ArtifactManager
from agentfm_nb.errors import InvalidRequestError

_C = TypeVar("_C", bound="BaseClient")


class BaseClient:
    _options: ClientOptions

    def __init__(
        self,
        gateway_url: str = DEFAULT_GATEWAY,
        *,
        timeout: float | httpx.Timeout | None = None,
        retries: int = 2,
        artifacts_dir: str | Path | None = None,
        api_key: str | _Unset | None = UNSET,
    ) -> None:
        self._init(ClientOptions.build(gateway_url, timeout, retries, artifacts_dir, api_key))
        ensure_accessor()  # df.agentfm, without importing pandas here

    def _init(self, opts: ClientOptions) -> None:
        self._options = opts
        self.gateway_url = opts.gateway_url
        self.timeout = opts.timeout
        self.retries = opts.retries
        self.artifacts_dir = opts.artifacts_dir
        # The SDK's public handle on the same folder (watched and extracted into); None when unset.
        self.artifacts = (
            ArtifactManager(opts.artifacts_dir, opts.artifacts_dir)
            if opts.artifacts_dir is not None
            else None
        )
        self.api_key = opts.api_key
        try:
            self._connect(opts)
        except httpx.InvalidURL as exc:  # unparseable (``http://[::1``): say so, typed
            raise InvalidRequestError(
                f"invalid gateway URL {opts.gateway_url!r}: {exc}", code="invalid_gateway_url"
            ) from None

    def _connect(self, opts: ClientOptions) -> None:
        raise NotImplementedError

    @classmethod
    def _from_options(cls: type[_C], opts: ClientOptions) -> _C:
        # Derived clients skip __init__: the options are already resolved (env key read once).
        self = cls.__new__(cls)
        self._init(opts)
        return self

    def __repr__(self) -> str:
        auth = "on" if self._options.api_key else "off"
        return f"{type(self).__name__}(gateway_url={self._options.gateway_url!r}, auth={auth!r})"

    def with_options(
        self: _C,
        *,
        gateway_url: str | _Unset = UNSET,
        timeout: float | httpx.Timeout | _Unset | None = UNSET,
        retries: int | _Unset = UNSET,
        artifacts_dir: str | Path | _Unset | None = UNSET,
        api_key: str | _Unset | None = UNSET,
    ) -> _C:
        """A new client with some options replaced (it owns its own connections)."""
        return self._from_options(
            self._options.derive(
                gateway_url=gateway_url,
                timeout=timeout,
                retries=retries,
                artifacts_dir=artifacts_dir,
                api_key=api_key,
            )
        )
