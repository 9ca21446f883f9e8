// Small shared pieces: status badge, progress bar, notices, action buttons, auth box.
import { useState, type FormEvent, type ReactNode } from 'react';
import { Link } from 'wouter';
import { errorMessage } from '../api/client';
import type { Progress, RunStatus } from '../api/types';
import { useAction, useAuth } from '../context';

export function StatusBadge({ status, testId }: { status: string; testId?: string }) {
  return (
    <span className={`badge badge-${status}`} data-testid={testId}>
      {status}
    </span>
  );
}

const PROGRESS_ORDER: RunStatus[] = ['succeeded', 'pruned', 'failed', 'cancelled', 'running', 'preempted', 'queued'];

export function ProgressBar({ progress, showCounts = true }: { progress: Progress | undefined; showCounts?: boolean }) {
  const total = progress?.total ?? 0;
  const by = progress?.byStatus ?? {};
  return (
    <div className="progress-cell">
      <div
        className="progress"
        title={PROGRESS_ORDER.filter((s) => by[s])
          .map((s) => `${s}: ${by[s]}`)
          .join(', ')}
      >
        {total > 0 &&
          PROGRESS_ORDER.map((s) =>
            by[s] ? <span key={s} className={`progress-seg seg-${s}`} style={{ width: `${((by[s] ?? 0) / total) * 100}%` }} /> : null,
          )}
      </div>
      <span className="progress-text num">
        {progress?.done ?? 0}/{total}
      </span>
      {showCounts && (
        <span className="progress-counts">
          {PROGRESS_ORDER.filter((s) => by[s]).map((s) => (
            <span key={s} className={`count count-${s}`} title={s}>
              {by[s]} {s}
            </span>
          ))}
        </span>
      )}
    </div>
  );
}

export function Notice({ kind = 'info', children, testId }: { kind?: 'info' | 'warn' | 'error'; children: ReactNode; testId?: string }) {
  return (
    <div className={`notice notice-${kind}`} data-testid={testId} role={kind === 'error' ? 'alert' : undefined}>
      {children}
    </div>
  );
}

export function LiveDot({ label }: { label: string }) {
  if (!label) return null;
  return <span className={`live-dot ${label === 'live' ? 'on' : 'off'}`}>{label}</span>;
}

/** A POST action button: hidden behind login (disabled with a tooltip) and confirmed when asked. */
export function ActionButton({
  label,
  path,
  testId,
  confirm,
  danger,
  onDone,
  disabledReason,
}: {
  label: string;
  path: string;
  testId: string;
  confirm?: string;
  danger?: boolean;
  onDone?: () => void;
  disabledReason?: string | null;
}) {
  const auth = useAuth();
  const act = useAction();
  const [busy, setBusy] = useState(false);
  const reason = !auth.canAct ? 'log in to act' : (disabledReason ?? null);
  return (
    <button
      type="button"
      className={`btn ${danger ? 'btn-danger' : ''}`}
      data-testid={testId}
      disabled={busy || !!reason}
      title={reason ?? undefined}
      onClick={async () => {
        if (confirm && !window.confirm(confirm)) return;
        setBusy(true);
        const ok = await act(label, path);
        setBusy(false);
        if (ok) onDone?.();
      }}
    >
      {busy ? `${label}…` : label}
    </button>
  );
}

export function AuthBox() {
  const auth = useAuth();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const s = auth.session;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!token.trim()) {
      setError('enter an API token');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await auth.login(token.trim());
      setToken('');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  if (s?.authenticated) {
    return (
      <div className="auth">
        <span className="auth-status" data-testid="auth-status">
          logged in as <b>{s.name ?? 'token'}</b>
        </span>
        <button
          type="button"
          className="btn btn-small"
          data-testid="logout"
          onClick={async () => {
            try {
              await auth.logout();
            } catch (err) {
              setError(errorMessage(err));
            }
          }}
        >
          Log out
        </button>
        {error && (
          <span className="auth-error" data-testid="login-error">
            {error}
          </span>
        )}
      </div>
    );
  }
  return (
    <form className="auth" onSubmit={submit}>
      <span className="auth-status muted" data-testid="auth-status" title={auth.unsupported ? 'this API has no /auth/session' : undefined}>
        {s === null ? 'checking…' : 'not logged in'}
      </span>
      <input
        type="password"
        className="input input-small"
        placeholder="API token"
        autoComplete="current-password"
        data-testid="login-token"
        value={token}
        onChange={(e) => setToken(e.target.value)}
      />
      <button type="submit" className="btn btn-small btn-primary" data-testid="login-submit" disabled={busy}>
        Log in
      </button>
      {error && (
        <span className="auth-error" data-testid="login-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}

export function TrialLink({ id, children }: { id: string; children?: ReactNode }) {
  return <Link href={`/trials/${id}`}>{children ?? id.slice(0, 8)}</Link>;
}
