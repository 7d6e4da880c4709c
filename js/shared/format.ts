// Human formatting shared by every widget (pure, unit-tested).

export function formatBytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n) || n < 0) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

export function formatGb(gb: number): string {
  if (!Number.isFinite(gb)) return "–";
  return `${gb < 10 ? gb.toFixed(1) : Math.round(gb)} GB`;
}

/** 0.4 -> "0.40s", 75 -> "1:15", 3725 -> "1:02:05" (tqdm style). */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 10) return `${seconds.toFixed(seconds < 1 ? 2 : 1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (x: number) => String(x).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

export function formatRate(perSecond: number | null | undefined): string {
  if (perSecond == null || !Number.isFinite(perSecond) || perSecond <= 0) return "– it/s";
  return perSecond >= 1 ? `${perSecond.toFixed(perSecond < 10 ? 2 : 1)} it/s` : `${(1 / perSecond).toFixed(2)} s/it`;
}

/** Seconds since an epoch timestamp, as "3s ago". */
export function formatAgo(epochSeconds: number, nowSeconds: number): string {
  if (!Number.isFinite(epochSeconds) || epochSeconds <= 0) return "–";
  const d = Math.max(0, nowSeconds - epochSeconds);
  if (d < 60) return `${Math.floor(d)}s ago`;
  if (d < 3600) return `${Math.floor(d / 60)}m ago`;
  if (d < 86400) return `${Math.floor(d / 3600)}h ago`;
  return `${Math.floor(d / 86400)}d ago`;
}

export function shortPeerId(peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId;
}

export function formatPercent(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(x < 10 ? 1 : 0)}%` : "–";
}
