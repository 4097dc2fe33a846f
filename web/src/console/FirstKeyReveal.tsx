import { useEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router';
import { takeFirstKey } from '../api/session';
import { NewKeyModal } from './keys/NewKeyModal';

/**
 * An account a GitHub/Google sign-in just created lands here with `?welcome=1`: its first key is
 * fetched (the server answers it once) and shown in the new-key dialog. Nothing shows on later
 * visits, and a reload after the first landing finds nothing to show.
 */
export function FirstKeyReveal() {
  const [params, setParams] = useSearchParams();
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const asked = useRef(false);
  const welcome = params.get('welcome') === '1';

  useEffect(() => {
    if (!welcome || asked.current) return;
    asked.current = true;
    const next = new URLSearchParams(params);
    next.delete('welcome');
    setParams(next, { replace: true });
    takeFirstKey()
      .then((k) => setCreated({ name: k.name, key: k.key }))
      // 404: already shown (another tab) or revoked meanwhile; nothing to show.
      .catch(() => {});
  }, [welcome, params, setParams]);

  return <NewKeyModal created={created} onClose={() => setCreated(null)} welcome />;
}
