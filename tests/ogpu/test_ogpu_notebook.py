"""Notebook 05 as a user who installed the wheel runs it: a wheel built from this tree,
installed into a fresh venv outside the checkout, runs the notebook shipped inside the package
top to bottom (anvil from PATH, contracts from the package), and the key is nowhere in it.

The fresh venv borrows the main venv's already-installed dependencies through a ``.pth`` line
(no download); the package itself comes only from the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from agentfm_nb.ogpu.anvil import find_anvil
from agentfm_nb.ogpu.devchain import DEV_MNEMONIC

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.chain, pytest.mark.slow]

_DRIVER = """
import json, sys
from importlib.resources import files
import nbformat
from nbclient import NotebookClient

path = files("agentfm_nb") / "notebooks" / "05_opengpu_agent.ipynb"
nb = nbformat.read(str(path), as_version=4)
nb.cells.append(nbformat.v4.new_code_cell("import agentfm_nb; print(f'PKG {agentfm_nb.__file__}')"))
NotebookClient(nb, timeout=120, kernel_name="python3").execute()
nbformat.write(nb, sys.argv[1])
"""


def _run(
    cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, check=False, cwd=cwd, env=env
    )
    assert done.returncode == 0, f"{cmd[:4]}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_notebook_05_runs_from_an_installed_wheel(tmp_path: Path) -> None:
    try:
        anvil = find_anvil()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    dist = tmp_path / "dist"
    # the front-end build is skipped when the built static files are present (they are after
    # any test run of the widgets); the build backend comes from pip's cache
    _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(dist)])
    (wheel,) = dist.glob("agentfm_nb-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    # a bare path line: the main venv's packages are importable, its .pth hooks (the
    # editable install of this checkout) are not run
    Path(site, "_main_venv_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ]
    )

    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": f"{anvil.parent}{os.pathsep}{venv / 'bin'}{os.pathsep}/usr/bin:/bin",
        "HOME": str(home),
        "AGENTFM_NB_CACHE_DIR": str(home / "cache"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    out = tmp_path / "05.executed.ipynb"
    _run([str(python), "-c", _DRIVER, str(out)], cwd=home, env=env)

    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert [o for o in outputs if o.get("output_type") == "error"] == []
    # a stream may arrive in several outputs, split anywhere: join them as written
    stdout = "".join(
        "".join(o["text"]) if isinstance(o.get("text"), list) else o.get("text", "")
        for o in outputs
        if o.get("name") == "stdout"
    )
    assert f"PKG {site}" in stdout  # the kernel imported the wheel's package, not the checkout
    assert "TaskExpiredError" in stdout and "NotAgentError | reason NotMaster" in stdout
    assert "attempt: mined in block" in stdout
    key = _dev_key(3)
    text = out.read_text().lower()
    for needle in (key, key[2:], key[2:18]):
        assert needle.lower() not in text


def _dev_key(index: int) -> str:
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return "0x" + bytes(acct.key).hex()
