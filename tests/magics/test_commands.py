"""Each subcommand against the session's embedded demo gateway (real HTTP, real agents)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agentfm_nb.client import get_default_client
from tests.magics.conftest import Shell

DEMO = {"Echo", "Poet", "Scribe", "Analyst"}


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def peer_of(ip: Shell, name: str) -> str:
    return next(w.peer_id for w in get_default_client().workers.list() if w.name == name)


def test_connect_sets_the_default_client(ip: Shell, gateway: Any) -> None:
    ran = ip.run(f"%agentfm connect {gateway.url}/")
    assert ran.ok, ran.err
    assert f"Connected to {gateway.url} (without an API key): 4 worker(s) online." in ran.out
    assert get_default_client().gateway_url.rstrip("/") == gateway.url


def test_connect_with_a_key_from_the_environment(
    ip: Shell, start_gateway: Any, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = start_gateway(api_keys=[api_key])
    monkeypatch.setenv("MY_AGENTFM_KEY", api_key)
    monkeypatch.setenv("WRONG_AGENTFM_KEY", "x" * 32)
    monkeypatch.delenv("AGENTFM_API_KEY", raising=False)

    ran = ip.run(f"%agentfm connect {gw.url} --api-key-env WRONG_AGENTFM_KEY")
    message = ran.one_line_error()
    assert "API key" in message or "invalid_api_key" in message, message
    assert "x" * 32 not in ran.out + ran.err

    message = ip.run(f"%agentfm connect {gw.url}").one_line_error()  # no key at all
    assert "key" in message.lower()

    ran = ip.run(f"%agentfm connect {gw.url} --api-key-env MY_AGENTFM_KEY")
    assert ran.ok, ran.err
    assert "with an API key" in ran.out and api_key not in ran.out
    ran = ip.run("%agentfm workers -o w")
    assert ran.ok and set(ip.ns["w"]["name"]) == DEMO


def test_workers_to_dataframe(connected: Shell) -> None:
    ran = connected.run("%agentfm workers -o wdf")
    assert ran.ok, ran.err
    df = connected.ns["wdf"]
    assert isinstance(df, pd.DataFrame)
    assert set(df["name"]) == DEMO
    assert "Stored 4 worker(s) in `wdf`." in ran.out
    connected.run("%agentfm workers --model llama3.2 -o llama")
    assert set(connected.ns["llama"]["name"]) == {"Poet", "Analyst"}


def test_workers_table_is_displayed(connected: Shell) -> None:
    ran = connected.run("%agentfm workers --available")
    assert ran.ok, ran.err
    assert ran.out.strip()  # the widget's text/plain fallback in a terminal shell


def test_run_streams_stdout_and_accepts_a_peer_prefix(connected: Shell) -> None:
    echo = peer_of(connected, "Echo")
    ran = connected.run(f"%agentfm run --peer {echo[:20]} what's up, mesh")
    assert ran.ok, ran.err
    assert "what's up, mesh" in ran.out
    ran = connected.run(f"%agentfm run --peer {echo} -o r hello")
    assert ran.ok and connected.ns["r"].text.strip().endswith("hello")


def test_run_unknown_peer_is_one_line(connected: Shell) -> None:
    message = connected.run("%agentfm run --peer 12D3KooWNotAPeer hi").one_line_error()
    assert "unknown peer '12D3KooWNotAPeer'" in message


def test_chat_waits_interpolates_and_stores(connected: Shell) -> None:
    connected.ns["topic"] = "meshes"
    ran = connected.run(
        "%%agentfm chat --model Echo -o reply --wait\nTell me about {topic}, {{ok}}"
    )
    assert ran.ok, ran.err
    reply = connected.ns["reply"]
    assert "Tell me about meshes, {ok}" in getattr(reply, "text", str(reply))

    ran = connected.run("%%agentfm chat --model Echo -o raw --wait --no-interpolate\nkeep {topic}")
    assert ran.ok, ran.err
    assert "keep {topic}" in getattr(connected.ns["raw"], "text", str(connected.ns["raw"]))


def test_chat_in_the_background_stores_when_done(connected: Shell) -> None:
    connected.ns.pop("later", None)
    started = time.monotonic()
    ran = connected.run("%%agentfm chat --model Poet -o later\nA poem, please.")
    assert ran.ok, ran.err
    assert "`later` is set when the reply is complete" in ran.out
    assert "later" not in connected.ns  # the cell returned before the poem finished
    wait_for(lambda: "later" in connected.ns)
    assert time.monotonic() - started > 0.5
    assert len(getattr(connected.ns["later"], "text", "").splitlines()) >= 10


def test_chat_errors(connected: Shell) -> None:
    assert (
        "no variable of that name"
        in connected.run("%%agentfm chat --model Echo\nhi {nobody_defined_this}").one_line_error()
    )
    assert (
        "--peer or --model, not both"
        in connected.run("%%agentfm chat --model Echo --peer 12D3KooW\nhi").one_line_error()
    )
    assert "no prompt" in connected.run("%agentfm chat --model Echo").one_line_error()
    assert (
        "unknown peer" in connected.run("%%agentfm chat --peer 12D3KooWNope\nhi").one_line_error()
    )


def test_scatter_body_lines_to_dataframe(connected: Shell) -> None:
    ran = connected.run("%%agentfm scatter --model echo -o res --wait\none\n\ntwo\n  three  \n")
    assert ran.ok, ran.err
    df = connected.ns["res"]
    assert list(df["prompt"]) == ["one", "two", "three"]
    assert set(df["status"]) == {"success"}
    assert [t.strip() for t in df["text"]] == ["one", "two", "three"]


def test_scatter_from_a_dataframe_column_over_named_peers(connected: Shell) -> None:
    connected.ns["qs"] = pd.DataFrame({"q": [f"q{i}" for i in range(6)]})
    echo, analyst = peer_of(connected, "Echo"), peer_of(connected, "Analyst")
    ran = connected.run(
        f"%agentfm scatter --from qs[q] --peers {echo} {analyst} --concurrency 2 -o out --wait"
    )
    assert ran.ok, ran.err
    df = connected.ns["out"]
    assert list(df["prompt"]) == [f"q{i}" for i in range(6)]
    assert set(df["worker_id"]) <= {echo, analyst}
    assert (df["status"] == "success").all()


def test_scatter_errors(connected: Shell) -> None:
    connected.ns["frame"] = pd.DataFrame({"a": ["x"]})
    for source, needle in [
        ("%agentfm scatter --model echo", "no prompts"),
        ("%agentfm scatter --from frame[b]", "has no column 'b'"),
        ("%agentfm scatter --from frame", "say which column"),
        ("%agentfm scatter --from nothing_here[a]", "no variable named 'nothing_here'"),
        ("%%agentfm scatter --model echo --peers 12D3KooWx\nhi", "not both"),
        ("%%agentfm scatter --model echo --concurrency 0\nhi", "at least 1"),
        ("%%agentfm scatter --model nobody\nhi", "no online worker serves model 'nobody'"),
    ]:
        assert needle in connected.run(source).one_line_error(), source


def test_model_means_what_the_gateway_routes_by(connected: Shell) -> None:
    ran = connected.run("%%agentfm chat --model poet -o answer --wait\nhello")
    assert ran.ok, ran.err
    assert connected.ns["answer"].peer_id == peer_of(connected, "Poet")
    assert connected.run("%agentfm workers --model Analyst -o a").ok
    assert list(connected.ns["a"]["name"]) == ["Analyst"]
    scribe = peer_of(connected, "Scribe")
    ran = connected.run(f"%%agentfm scatter --model {scribe} -o s --wait\none\ntwo")
    assert ran.ok, ran.err
    assert set(connected.ns["s"]["worker_id"]) == {scribe}
    # connect --artifacts-dir: each row's files are extracted from the gateway's zips
    for files in connected.ns["s"]["artifacts"]:
        assert [Path(f).name for f in files] == ["report.md"] and Path(files[0]).is_file()
    message = connected.run("%%agentfm chat --model nobody\nhi").one_line_error()
    assert "no online worker serves model 'nobody'" in message


def test_the_default_client_collects_files_where_the_gateway_writes_them(
    ip: Shell, gateway: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentfm_nb.client import set_default_client
    from agentfm_nb.magics._session import default_artifacts_dir

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGENTFM_GATEWAY_URL", gateway.url)
    set_default_client(None)
    # No ./agentfm_artifacts here: no guess (a wrong one stalls every task that writes files).
    assert ip.run("%agentfm workers -o w").ok
    assert get_default_client().artifacts_dir is None
    ran = ip.run(f"%agentfm connect {gateway.url}")
    assert ran.ok and "not collected (say where with --artifacts-dir DIR)" in ran.out
    # A gateway on this machine writes ./agentfm_artifacts: the magics' client looks there.
    (tmp_path / "agentfm_artifacts").mkdir()
    set_default_client(None)
    assert ip.run("%agentfm workers -o w").ok
    assert get_default_client().artifacts_dir == tmp_path / "agentfm_artifacts"
    ran = ip.run(f"%agentfm connect {gateway.url}")
    assert ran.ok and f"extracted under {tmp_path / 'agentfm_artifacts'}." in ran.out
    ran = ip.run(f"%agentfm connect {gateway.url} --artifacts-dir none")
    assert ran.ok and get_default_client().artifacts_dir is None
    # A remote gateway keeps its zips on its own disk.
    assert default_artifacts_dir("http://10.1.2.3:8080") is None
