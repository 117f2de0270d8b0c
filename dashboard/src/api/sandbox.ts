import { ApiError, api, client, type Schemas } from './client';
import { useApi } from './useApi';

export type SandboxInfo = Schemas['SandboxInfo'];

/**
 * The embedded sandbox's addresses when it runs (admin only): null when none runs (404) or the
 * key may not ask. The Sandbox page and its menu entry show only when this is not null.
 */
export function useSandboxInfo(allowed: boolean) {
  return useApi<SandboxInfo | null>(async () => {
    if (!allowed) return null;
    try {
      return await api(client.GET('/api/v1/sandbox'));
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return null;
      throw error;
    }
  }, [allowed]);
}
