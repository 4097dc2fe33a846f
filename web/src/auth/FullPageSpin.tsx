/**
 * What shows while the session and an area's code load: the same layout shell that index.html
 * paints before any script runs (its CSS is there too), so a cold load goes from the shell to the
 * page without a blank screen or a lone spinner in between.
 */
export function FullPageSpin() {
  return (
    <div className="tg-shell" data-testid="shell-skeleton" aria-busy="true">
      <div className="tg-shell-top">
        <div className="tg-shell-logo" />
        <span className="tg-shell-brand">Tollgate</span>
      </div>
      <div className="tg-shell-side">
        <div className="tg-shell-bar" />
        <div className="tg-shell-bar" style={{ width: '80%' }} />
        <div className="tg-shell-bar" style={{ width: '60%' }} />
        <div className="tg-shell-bar" style={{ width: '70%' }} />
      </div>
      <div className="tg-shell-main">
        <div className="tg-shell-bar" style={{ width: '30%', height: 22 }} />
        <div className="tg-shell-card" />
        <div className="tg-shell-card" />
      </div>
    </div>
  );
}
