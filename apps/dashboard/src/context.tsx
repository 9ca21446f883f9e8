// App-wide state: the auth session and the toast (action results and errors).
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { apiGet, apiSend, ApiError, errorMessage } from './api/client';
import type { Session } from './api/types';

export interface AuthState {
  /** null while the first /auth/session is in flight. */
  session: Session | null;
  /** The API has no /auth/session (an older server): writes are attempted without login. */
  unsupported: boolean;
  /** Whether write actions should be offered. */
  canAct: boolean;
  login(token: string): Promise<void>;
  logout(): Promise<void>;
  refresh(): Promise<void>;
}

interface Toast {
  id: number;
  message: string;
  kind: 'ok' | 'error';
}

interface ToastApi {
  show(message: string, kind?: 'ok' | 'error'): void;
}

const AuthContext = createContext<AuthState | null>(null);
const ToastContext = createContext<ToastApi | null>(null);

export function useAuth(): AuthState {
  const a = useContext(AuthContext);
  if (!a) throw new Error('useAuth outside AppProviders');
  return a;
}

export function useToast(): ToastApi {
  const t = useContext(ToastContext);
  if (!t) throw new Error('useToast outside AppProviders');
  return t;
}

export function AppProviders({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(null);
  const [unsupported, setUnsupported] = useState(false);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);

  const refresh = useCallback(async () => {
    try {
      const s = await apiGet<Session>('/auth/session');
      setSession({ authenticated: !!s.authenticated, name: s.name ?? null, readsNeedToken: !!s.readsNeedToken });
      setUnsupported(false);
    } catch (e) {
      setSession({ authenticated: false, name: null, readsNeedToken: false });
      setUnsupported(e instanceof ApiError && (e.status === 404 || e.status === 405));
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const login = useCallback(
    async (token: string) => {
      await apiSend('POST', '/auth/session', { token });
      await refresh();
    },
    [refresh],
  );

  const logout = useCallback(async () => {
    await apiSend('DELETE', '/auth/session');
    await refresh();
  }, [refresh]);

  const show = useCallback((message: string, kind: 'ok' | 'error' = 'ok') => {
    const id = nextId.current++;
    setToasts((t) => [...t.slice(-3), { id, message, kind }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), kind === 'error' ? 10000 : 5000);
  }, []);

  const auth: AuthState = {
    session,
    unsupported,
    canAct: unsupported || !!session?.authenticated,
    login,
    logout,
    refresh,
  };

  return (
    <AuthContext.Provider value={auth}>
      <ToastContext.Provider value={{ show }}>
        {children}
        <div className="toasts" aria-live="polite">
          {toasts.map((t) => (
            <div
              key={t.id}
              className={`toast toast-${t.kind}`}
              data-testid="toast"
              role={t.kind === 'error' ? 'alert' : 'status'}
              onClick={() => setToasts((all) => all.filter((x) => x.id !== t.id))}
            >
              {t.message}
            </div>
          ))}
        </div>
      </ToastContext.Provider>
    </AuthContext.Provider>
  );
}

/** Runs a POST action and reports its outcome in a toast; returns whether it succeeded. */
export function useAction(): (label: string, path: string) => Promise<boolean> {
  const toast = useToast();
  const auth = useAuth();
  return useCallback(
    async (label: string, path: string) => {
      try {
        const res = await apiSend<Record<string, unknown>>('POST', path);
        toast.show(`${label}: done${summarize(res)}`, 'ok');
        return true;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) void auth.refresh();
        toast.show(`${label} failed: ${errorMessage(e)}`, 'error');
        return false;
      }
    },
    [toast, auth],
  );
}

function summarize(res: Record<string, unknown> | null): string {
  if (!res || typeof res !== 'object') return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(res)) {
    if (Array.isArray(v)) parts.push(`${k}: ${v.length}`);
    else if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') parts.push(`${k}: ${v}`);
    if (parts.length >= 3) break;
  }
  return parts.length ? ` (${parts.join(', ')})` : '';
}
