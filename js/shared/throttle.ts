// Leading+trailing throttle: at most one call per `ms`, and the last call always lands.

export interface Throttled<A extends unknown[]> {
  (...args: A): void;
  flush(): void;
  cancel(): void;
}

export function throttle<A extends unknown[]>(
  fn: (...args: A) => void,
  ms: number,
  now: () => number = () => Date.now(),
  schedule: (cb: () => void, ms: number) => unknown = (cb, t) => setTimeout(cb, t),
  unschedule: (h: unknown) => void = (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
): Throttled<A> {
  let last = -Infinity;
  let pending: A | null = null;
  let timer: unknown = null;
  const fire = () => {
    timer = null;
    if (pending === null) return;
    const args = pending;
    pending = null;
    last = now();
    fn(...args);
  };
  const throttled = ((...args: A) => {
    pending = args;
    const wait = last + ms - now();
    if (wait <= 0 && timer === null) fire();
    else if (timer === null) timer = schedule(fire, Math.max(0, wait));
  }) as Throttled<A>;
  throttled.flush = () => {
    if (timer !== null) unschedule(timer);
    timer = null;
    fire();
  };
  throttled.cancel = () => {
    if (timer !== null) unschedule(timer);
    timer = null;
    pending = null;
  };
  return throttled;
}
