import { Button, Result, Typography } from 'antd';
import { Component, type ErrorInfo, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { useRouteError } from 'react-router';

/**
 * A page's code could not be fetched: after a new version is installed, the old file names are
 * gone, so a tab opened before the upgrade cannot load the next page until it is reloaded.
 */
export function isChunkLoadError(e: unknown): boolean {
  const m = e instanceof Error ? `${e.name} ${e.message}` : String(e);
  return /dynamically imported module|Importing a module script failed|error loading dynamically imported module|ChunkLoadError|Failed to load module script/i.test(m);
}

const RELOADED = 'tollgate.chunk-reload';

/** An area's code loaded: a later stale chunk may again reload the page by itself, once. */
export function chunksLoaded(): void {
  try {
    sessionStorage.removeItem(RELOADED);
  } catch {
    /* storage unavailable: the automatic reload simply never happens */
  }
}

/** What a person sees instead of a page that failed to render: words, and a way out. */
export function PageErrorView({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation();
  const chunk = isChunkLoadError(error);
  return (
    <div data-testid="page-error">
      <Result
        status={chunk ? 'info' : 'error'}
        title={t(chunk ? 'errors.new_version_title' : 'errors.page_title')}
        subTitle={t(chunk ? 'errors.new_version' : 'errors.page_text')}
        extra={[
          <Button key="reload" type="primary" onClick={() => window.location.reload()} data-testid="page-error-reload">
            {t('common.reload')}
          </Button>,
          onRetry && !chunk ? (
            <Button key="retry" onClick={onRetry}>
              {t('common.retry')}
            </Button>
          ) : null,
        ]}
      >
        {!chunk && error instanceof Error ? (
          <Typography.Paragraph type="secondary" style={{ textAlign: 'center', marginBottom: 0 }} className="tg-mono">
            {error.message}
          </Typography.Paragraph>
        ) : null}
      </Result>
    </div>
  );
}

function canAutoReload(): boolean {
  try {
    if (sessionStorage.getItem(RELOADED)) return false;
    sessionStorage.setItem(RELOADED, '1');
    return true;
  } catch {
    return false;
  }
}

/** The router's error element (a lazy area that failed to load, a render error outside a page). */
export function RouteError() {
  const error = useRouteError();
  // A stale tab after an upgrade: reload once by itself (not in a loop if the reload fails too).
  if (isChunkLoadError(error) && canAutoReload()) {
    window.location.reload();
    return null;
  }
  return (
    <div style={{ padding: 24 }}>
      <PageErrorView error={error} />
    </div>
  );
}

/**
 * Keeps the shell (menu, header) on screen when one page throws while rendering or fails to load
 * its code. Give it `key={pathname}` so moving to another page starts afresh.
 */
export class PageErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state: { error: unknown } = { error: null };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo) {
    console.error('page failed to render', error, info.componentStack);
  }

  override render() {
    if (this.state.error) return <PageErrorView error={this.state.error} onRetry={() => this.setState({ error: null })} />;
    return this.props.children;
  }
}
