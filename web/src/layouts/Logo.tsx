/** The mark: a gate bar over a "T". */
export function Logo({ size = 28 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 32 32" aria-hidden="true">
      <rect width="32" height="32" rx="7" fill="#1668dc" />
      <path d="M8 10h16v3h-6.5v11h-3V13H8z" fill="#fff" />
    </svg>
  );
}
