import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, client, setToken, setUnauthorizedHandler, type Me } from '../api/client';
import { permissionsOf, type Permissions } from './permissions';

/** The JWT lives for the browser tab only: sessionStorage, never localStorage or a cookie. */
const STORAGE_KEY = 'teleflow.jwt';

export interface Auth {
  me: Me;
  token: string;
  can: Permissions;
  signOut(): Promise<void>;
}

interface AuthState {
  status: 'loading' | 'signed-out' | 'signed-in';
  auth: Auth | null;
  signIn(apiKey: string): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

function readStoredToken(): string | null {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

function storeToken(token: string | null): void {
  try {
    if (token) window.sessionStorage.setItem(STORAGE_KEY, token);
    else window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage disabled: the token lives in memory until reload
  }
  setToken(token);
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<AuthState['status']>(() =>
    readStoredToken() ? 'loading' : 'signed-out',
  );
  const [session, setSession] = useState<{ token: string; me: Me } | null>(null);

  const forget = useCallback(() => {
    storeToken(null);
    setSession(null);
    setStatus('signed-out');
  }, []);

  const adopt = useCallback(async (token: string) => {
    storeToken(token);
    const me = await api(client.GET('/api/v1/auth/me'));
    setSession({ token, me });
    setStatus('signed-in');
  }, []);

  // A 401 from any call (expired or revoked JWT) returns to the sign-in page.
  useEffect(() => {
    setUnauthorizedHandler(forget);
    return () => setUnauthorizedHandler(null);
  }, [forget]);

  // Reload within the tab: the stored JWT is checked with /auth/me.
  useEffect(() => {
    const stored = readStoredToken();
    if (stored) adopt(stored).catch(forget);
  }, [adopt, forget]);

  const signIn = useCallback(
    async (apiKey: string) => {
      const login = await api(client.POST('/api/v1/auth/login', { body: { apiKey } }));
      await adopt(login.token);
    },
    [adopt],
  );

  const signOut = useCallback(async () => {
    try {
      await client.POST('/api/v1/auth/logout');
    } finally {
      forget();
    }
  }, [forget]);

  const value = useMemo<AuthState>(
    () => ({
      status,
      signIn,
      auth: session ? { ...session, can: permissionsOf(session.me), signOut } : null,
    }),
    [status, session, signIn, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuthState(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error('useAuthState outside AuthProvider');
  return state;
}

/** The signed-in key, its token and permissions; only inside the signed-in layout. */
export function useAuth(): Auth {
  const { auth } = useAuthState();
  if (!auth) throw new Error('useAuth while signed out');
  return auth;
}
