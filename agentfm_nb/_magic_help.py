"""Plain-text ``--help`` for IPython magics (shared by ``%agentfm`` and ``%ogpu``)."""

from __future__ import annotations


def plain_help(text: str) -> str:
    """Undo the reST framing of IPython's help formatter.

    It writes ``::`` and then the usage indented as a literal block; plain text reads better in a
    cell output.
    """
    lines = text.rstrip().splitlines()
    if lines and lines[0].strip() == "::":
        lines = lines[1:]
        while lines and not lines[0].strip():
            lines.pop(0)
        end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
        lines[:end] = [line[2:] if line.startswith("  ") else line for line in lines[:end]]
    return "\n".join(lines)
