"""Host telemetry the workers advertise: CPU %, free RAM (psutil), GPU (``nvidia-smi``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from dataclasses import dataclass

import psutil

_GIB = 1024**3


@dataclass(frozen=True)
class HostSample:
    cpu_usage_pct: float
    ram_free_gb: float
    cpu_cores: int
    has_gpu: bool = False
    gpu_used_gb: float = 0.0
    gpu_total_gb: float = 0.0
    gpu_usage_pct: float = 0.0
    at: float = 0.0  # time.time() of the sample


def sample_cpu_ram() -> HostSample:
    # interval=None: the CPU % since the previous call (the first call primes the counter)
    cpu = float(psutil.cpu_percent(interval=None))
    ram = psutil.virtual_memory().available / _GIB
    return HostSample(
        cpu_usage_pct=round(cpu, 1),
        ram_free_gb=round(ram, 2),
        cpu_cores=os.cpu_count() or 1,
        at=time.time(),
    )


def parse_nvidia_smi(text: str) -> tuple[float, float, float] | None:
    """Sum ``memory.used, memory.total, utilization.gpu`` CSV rows (MiB, MiB, %) over all GPUs."""
    used = total = util = 0.0
    rows = 0
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        try:
            u, t, g = (float(p) for p in parts[:3])
        except ValueError:
            continue
        used += u
        total += t
        util += g
        rows += 1
    if not rows or total <= 0:
        return None
    return used / 1024, total / 1024, util / rows


async def sample_gpu(
    binary: str | None = None, timeout: float = 5.0
) -> tuple[float, float, float] | None:
    """(used GB, total GB, utilisation %) from ``nvidia-smi``, or None without a GPU."""
    exe = binary or shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        proc = await asyncio.create_subprocess_exec(
            exe,
            "--query-gpu=memory.used,memory.total,utilization.gpu",
            "--format=csv,noheader,nounits",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return None
    if proc.returncode != 0:
        return None
    return parse_nvidia_smi(out.decode("utf-8", "replace"))


class HostTelemetry:
    """The latest host sample; ``refresh()`` takes a new one (GPU probing stops if absent)."""

    def __init__(self, *, nvidia_smi: str | None = None) -> None:
        self._nvidia = nvidia_smi or shutil.which("nvidia-smi")
        psutil.cpu_percent(interval=None)  # prime the counter: a first reading is meaningless
        first = sample_cpu_ram()
        # until the first tick, estimate CPU % from the 1-minute load average (no blocking sample)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        estimate = round(min(100.0, 100.0 * load / first.cpu_cores), 1)
        self.latest = HostSample(
            cpu_usage_pct=estimate,
            ram_free_gb=first.ram_free_gb,
            cpu_cores=first.cpu_cores,
            at=first.at,
        )

    @property
    def has_gpu_probe(self) -> bool:
        return self._nvidia is not None

    async def refresh(self, *, cpu: bool = True) -> HostSample:
        if cpu:
            base = await asyncio.get_running_loop().run_in_executor(None, sample_cpu_ram)
        else:
            base = self.latest
        gpu = await sample_gpu(self._nvidia) if self._nvidia else None
        if gpu is None:
            self.latest = base
        else:
            used, total, util = gpu
            self.latest = HostSample(
                cpu_usage_pct=base.cpu_usage_pct,
                ram_free_gb=base.ram_free_gb,
                cpu_cores=base.cpu_cores,
                has_gpu=True,
                gpu_used_gb=round(used, 2),
                gpu_total_gb=round(total, 2),
                gpu_usage_pct=round(util, 1),
                at=base.at,
            )
        return self.latest


__all__ = ["HostSample", "HostTelemetry", "parse_nvidia_smi", "sample_cpu_ram", "sample_gpu"]
