"""Protocol enums (values from the published ABIs)."""

from __future__ import annotations

import enum


class TaskStatus(enum.IntEnum):
    NEW = 0
    ATTEMPTED = 1
    RESPONDED = 2
    CANCELED = 3
    EXPIRED = 4
    FINALIZED = 5

    @property
    def is_terminal(self) -> bool:
        return self in (TaskStatus.CANCELED, TaskStatus.EXPIRED, TaskStatus.FINALIZED)


class SourceStatus(enum.IntEnum):
    ACTIVE = 0
    INACTIVE = 1


class Environment(enum.IntFlag):
    """Preferred-environment bitmask; members combine (``CPU | NVIDIA`` == 3)."""

    CPU = 1
    NVIDIA = 2
    AMD = 4

    @classmethod
    def parse(cls, text: str | int | Environment) -> Environment:
        """``"cpu,nvidia"`` / ``3`` / ``Environment.CPU`` → a flag value."""
        if isinstance(text, cls):
            return text
        if isinstance(text, int):
            if not 0 < text < 8:
                raise ValueError(f"environment bitmask must be 1..7, got {text}")
            return cls(text)
        value = cls(0)
        for part in str(text).replace("|", ",").split(","):
            name = part.strip().upper()
            if not name:
                continue
            if name not in cls.__members__:
                raise ValueError(f"unknown environment {part.strip()!r}; use cpu, nvidia, amd")
            value |= cls[name]
        if not value:
            raise ValueError("no environment given; use cpu, nvidia, amd")
        return value
