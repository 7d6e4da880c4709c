"""Facts of the AgentFM wire protocol that the gateway, the client and the widgets all speak.

One place, so the embedded gateway and the client cannot drift apart on a marker's spelling.
"""

from __future__ import annotations

import re

# Any stdout line starting with this is a protocol marker, never user text.
MARKER_PREFIX = "[AGENTFM:"
FILES_INCOMING = "[AGENTFM: FILES_INCOMING]"
NO_FILES = "[AGENTFM: NO_FILES]"
# A failed agent's stream ends with one line carrying this prefix, before the sentinel.
ERROR_PREFIX = "\u274c ERROR: "
TASK_ID_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")

__all__ = ["ERROR_PREFIX", "FILES_INCOMING", "MARKER_PREFIX", "NO_FILES", "TASK_ID_RE"]
