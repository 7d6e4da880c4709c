"""Fixtures of the client tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from client_fakes import FakeServer, Route


@pytest.fixture
def fake_server() -> Iterator[Callable[[dict[str, Route]], FakeServer]]:
    servers: list[FakeServer] = []

    def make(routes: dict[str, Route]) -> FakeServer:
        s = FakeServer(routes)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()
