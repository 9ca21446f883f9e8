// Live data: an EventSource opened before the REST snapshot, its events buffered while the snapshot
// loads and applied after it; a reconnect reloads the snapshot. When the stream is unavailable
// (no endpoint, closed), the snapshot is polled instead.
import { useCallback, useEffect, useRef, useState } from 'react';

export type LiveState = 'connecting' | 'live' | 'polling' | 'off';

export interface LiveOptions {
  /** SSE URL; null: no stream (only the snapshot, polled every pollMs when given). */
  url: string | null;
  events: readonly string[];
  /** Loads the REST snapshot into the page's state. Rejecting leaves the error to the caller. */
  load: () => Promise<void>;
  /** Applies one event (after the snapshot is in). */
  apply: (type: string, data: unknown) => void;
  /** Poll the snapshot this often when the stream is down. Default 5000 ms. */
  pollMs?: number;
}

export function useLive({ url, events, load, apply, pollMs = 5000 }: LiveOptions): { state: LiveState; reload: () => void } {
  const [state, setState] = useState<LiveState>(url ? 'connecting' : 'off');
  const loadRef = useRef(load);
  const applyRef = useRef(apply);
  loadRef.current = load;
  applyRef.current = apply;
  const runRef = useRef<() => void>(() => undefined);
  const eventsKey = events.join(',');

  useEffect(() => {
    let disposed = false;
    let ready = false;
    let gen = 0;
    let buffer: Array<[string, unknown]> = [];
    let poll: ReturnType<typeof setInterval> | null = null;
    let es: EventSource | null = null;

    const run = () => {
      const my = ++gen;
      ready = false;
      loadRef
        .current()
        .catch(() => undefined)
        .then(() => {
          if (disposed || my !== gen) return;
          const pending = buffer;
          buffer = [];
          for (const [t, d] of pending) safeApply(t, d);
          ready = true;
        });
    };
    runRef.current = run;

    const safeApply = (t: string, d: unknown) => {
      try {
        applyRef.current(t, d);
      } catch (e) {
        console.warn('live event not applied', t, e);
      }
    };

    const startPolling = () => {
      if (poll || pollMs <= 0) return;
      poll = setInterval(run, pollMs);
    };

    if (!url || typeof EventSource === 'undefined') {
      run();
      if (url) setState('polling');
      if (url) startPolling();
      return () => {
        disposed = true;
        if (poll) clearInterval(poll);
      };
    }

    es = new EventSource(url, { withCredentials: true });
    let opened = false;
    // Load the snapshot once the stream is open (no gap), or after a grace period if it hangs.
    const grace = setTimeout(() => {
      if (!opened) run();
    }, 1500);
    for (const name of eventsKey.split(',')) {
      es.addEventListener(name, (e) => {
        let data: unknown;
        try {
          data = JSON.parse((e as MessageEvent<string>).data);
        } catch {
          return;
        }
        if (ready) safeApply(name, data);
        else buffer.push([name, data]);
      });
    }
    es.onopen = () => {
      if (disposed) return;
      opened = true;
      clearTimeout(grace);
      if (poll) {
        clearInterval(poll);
        poll = null;
      }
      setState('live');
      run();
    };
    es.onerror = () => {
      if (disposed || !es) return;
      ready = false;
      if (es.readyState === EventSource.CLOSED) {
        // No endpoint (404), or refused: fall back to polling.
        setState('polling');
        if (!opened) {
          clearTimeout(grace);
          run();
        }
        startPolling();
      } else {
        setState('connecting');
        if (!opened) {
          clearTimeout(grace);
          run();
        }
      }
    };
    return () => {
      disposed = true;
      clearTimeout(grace);
      if (poll) clearInterval(poll);
      es?.close();
    };
  }, [url, eventsKey, pollMs]);

  const reload = useCallback(() => runRef.current(), []);
  return { state, reload };
}

/** A version counter bumped at most once per animation frame: mutable stores + cheap re-renders. */
export function useFrameVersion(): [number, () => void] {
  const [v, setV] = useState(0);
  const pending = useRef(false);
  const bump = useCallback(() => {
    if (pending.current) return;
    pending.current = true;
    requestAnimationFrame(() => {
      pending.current = false;
      setV((x) => x + 1);
    });
  }, []);
  return [v, bump];
}

/** Calls fn now and every ms (skipped while the tab is hidden). */
export function useInterval(fn: () => void, ms: number, deps: readonly unknown[] = []): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    ref.current();
    const id = setInterval(() => {
      if (typeof document === 'undefined' || document.visibilityState !== 'hidden') ref.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms, ...deps]);
}

/** Re-render every ms (for "3 s ago" labels). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

export function liveLabel(s: LiveState): string {
  return s === 'live' ? 'live' : s === 'connecting' ? 'reconnecting…' : s === 'polling' ? 'live updates unavailable – polling' : '';
}
