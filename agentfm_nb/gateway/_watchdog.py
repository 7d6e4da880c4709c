"""Sidecar that stops a gateway once the Python process that launched it is gone.

``python -m agentfm_nb.gateway._watchdog --fd N --pid P --create-time T [--grace S]``

The launcher keeps the write end of a pipe whose read end is fd ``N`` here. When the launcher dies
in any way (SIGKILL of a Jupyter kernel included) the kernel closes that end, the read returns
EOF, and the gateway ``P`` gets SIGTERM, then SIGKILL after ``S`` seconds. The sidecar runs
nothing itself and exits on its own as soon as the gateway is gone. It is the portable half of
the no-orphan guarantee; Linux's parent-death signal is the other half.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

from agentfm_nb.gateway._process import kill_tree, same_process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentfm_nb.gateway._watchdog")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--create-time", type=float, required=True)
    parser.add_argument("--grace", type=float, default=5.0)
    args = parser.parse_args(argv)
    # A Ctrl-C meant for the notebook's terminal must not take the guard down first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    parent_gone = threading.Event()

    def watch_pipe() -> None:
        try:
            while os.read(args.fd, 4096):
                pass
        except OSError:
            pass
        parent_gone.set()

    threading.Thread(target=watch_pipe, daemon=True).start()
    while not parent_gone.wait(0.25):
        if same_process(args.pid, args.create_time) is None:
            return 0
    target = same_process(args.pid, args.create_time)
    if target is not None:
        kill_tree(target, grace=args.grace)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
