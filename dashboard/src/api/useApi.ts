import { useCallback, useEffect, useRef, useState } from 'react';

export interface ApiState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again (keeps the current data while loading). */
  reload(): void;
  /** Replaces the data locally, e.g. from a live event or after a change. */
  setData(update: T | ((current: T | undefined) => T)): void;
}

/**
 * Runs `load` on mount and whenever `deps` change; answers of a superseded load are dropped.
 *
 *   const sessions = useApi(() => api(client.GET('/api/v1/sessions')), []);
 */
export function useApi<T>(load: () => Promise<T>, deps: readonly unknown[]): ApiState<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let current = true;
    setLoading(true);
    loadRef.current().then(
      (value) => {
        if (!current) return;
        setDataState(value);
        setError(null);
        setLoading(false);
      },
      (cause: unknown) => {
        if (!current) return;
        setError(cause);
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [...deps, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const setData = useCallback((update: T | ((current: T | undefined) => T)) => {
    setDataState((current) =>
      typeof update === 'function' ? (update as (c: T | undefined) => T)(current) : update,
    );
  }, []);
  return { data, error, loading, reload, setData };
}
