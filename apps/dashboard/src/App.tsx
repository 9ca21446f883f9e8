// Shell: top bar (product, nav, auth) and the hash routes.
import { Link, Route, Router, Switch } from 'wouter';
import { useHashLocation } from 'wouter/use-hash-location';
import { AuthBox } from './components/common';
import { AppProviders, useAuth } from './context';
import { HomePage } from './pages/HomePage';
import { SweepPage } from './pages/SweepPage';
import { TrialPage } from './pages/TrialPage';

function TopBar() {
  return (
    <header className="topbar">
      <Link href="/" className="brand">
        <span className="brand-mark">◆</span> LoRA orchestrator
      </Link>
      <nav className="nav">
        <Link href="/" className={(active: boolean) => (active ? 'active' : '')}>
          Overview
        </Link>
        <a href="/docs" target="_blank" rel="noreferrer">
          API docs
        </a>
      </nav>
      <div className="spacer" />
      <AuthBox />
    </header>
  );
}

function ReadsNeedLogin() {
  const auth = useAuth();
  if (!auth.session?.readsNeedToken || auth.session.authenticated) return null;
  return <div className="notice notice-warn page-notice">This API needs a token to read. Log in with an API token (top right).</div>;
}

/**
 * The pages, remounted when the login state changes (reloads data, reopens streams with the cookie).
 * Nothing mounts until the first /auth/session answers: mounting before it would load every page
 * twice (and briefly empty it) when a session cookie turns the key from 'out' to 'in'.
 */
function Pages() {
  const auth = useAuth();
  if (auth.session === null) return <main className="main" data-testid="session-pending" />;
  return (
    <main className="main" key={auth.session?.authenticated ? `in:${auth.session.name ?? ''}` : 'out'}>
      <ReadsNeedLogin />
      <Switch>
        <Route path="/" component={HomePage} />
        <Route path="/sweeps/:id">{(p) => <SweepPage key={p.id} id={p.id} />}</Route>
        <Route path="/trials/:id">{(p) => <TrialPage key={p.id} id={p.id} />}</Route>
        <Route>
          <div className="notice notice-warn">
            Page not found. <Link href="/">Back to the overview</Link>
          </div>
        </Route>
      </Switch>
    </main>
  );
}

export function App() {
  return (
    <AppProviders>
      <Router hook={useHashLocation}>
        <TopBar />
        <Pages />
      </Router>
    </AppProviders>
  );
}
