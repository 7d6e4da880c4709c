import { describe, expect, it, vi } from "vitest";
import { RateMeter } from "../shared/eta";
import { formatAgo, formatBytes, formatDuration, formatRate, shortPeerId } from "../shared/format";
import { throttle } from "../shared/throttle";

describe("format", () => {
  it("formats bytes, durations, rates and ages", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(50 * 1024 * 1024)).toBe("50 MB");
    expect(formatBytes(-1)).toBe("–");
    expect(formatDuration(0.25)).toBe("0.25s");
    expect(formatDuration(75)).toBe("1:15");
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(null)).toBe("–");
    expect(formatRate(12.34)).toBe("12.3 it/s");
    expect(formatRate(0.5)).toBe("2.00 s/it");
    expect(formatAgo(100, 130)).toBe("30s ago");
    expect(formatAgo(0, 130)).toBe("–");
  });

  it("shortens peer ids", () => {
    const id = "12D3KooWAbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefgh";
    expect(shortPeerId(id)).toBe("12D3KooW…cdefgh");
    expect(shortPeerId("short")).toBe("short");
  });
});

describe("RateMeter", () => {
  it("smooths the rate exponentially and estimates the ETA", () => {
    const m = new RateMeter(0.5);
    expect(m.update(0, 0)).toBeNull();
    expect(m.update(10, 1)).toBe(10);
    expect(m.update(30, 2)).toBe(15); // 0.5*20 + 0.5*10
    expect(m.eta(30)).toBe(2);
    expect(m.update(30, 3)).toBe(15); // no progress: rate kept
  });
});

describe("throttle", () => {
  it("calls at most once per interval and always delivers the last call", () => {
    vi.useFakeTimers();
    const calls: number[] = [];
    const t = throttle((x: number) => calls.push(x), 100);
    for (let i = 0; i < 50; i++) t(i);
    expect(calls).toEqual([0]);
    vi.advanceTimersByTime(100);
    expect(calls).toEqual([0, 49]);
    t(50);
    t.flush();
    expect(calls).toEqual([0, 49, 50]);
    t(51);
    t.cancel();
    vi.advanceTimersByTime(500);
    expect(calls).toEqual([0, 49, 50]);
    vi.useRealTimers();
  });
});
