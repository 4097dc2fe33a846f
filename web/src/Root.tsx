import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { App as AntApp, ConfigProvider } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import { RouterProvider } from 'react-router';
import { ApiError, onSessionLost, onTwoFactorRequired } from './api/client';
import { meKey } from './api/session';
import { router } from './router';
import { ReauthModal } from './components/ReauthModal';

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // Balances and usage change by the second: a page shows what is true when it is opened
      // (cached data is shown at once and refreshed in the background).
      staleTime: 0,
      refetchOnWindowFocus: false,
      // Errors a retry cannot fix (4xx) are shown at once; the network and 5xx get one more try.
      retry: (n, e) => n < 1 && !(e instanceof ApiError && e.status >= 400 && e.status < 500),
    },
  },
});

// The server says the session is gone (expired, signed out elsewhere): the area guards then send
// the person to the sign-in page, which brings them back afterwards.
onSessionLost(() => queryClient.setQueryData(meKey, null));
onTwoFactorRequired(() => void queryClient.invalidateQueries({ queryKey: meKey }));

export const theme = {
  token: { colorPrimary: '#1668dc', borderRadius: 6, fontSize: 14 },
  components: { Layout: { bodyBg: '#f5f7fa' } },
};

export function Root() {
  const { i18n } = useTranslation();
  const zh = i18n.language === 'zh-CN';
  useEffect(() => {
    dayjs.locale(zh ? 'zh-cn' : 'en');
    document.documentElement.lang = i18n.language;
  }, [zh, i18n.language]);
  return (
    <ConfigProvider locale={zh ? zhCN : enUS} theme={theme}>
      <AntApp>
        <QueryClientProvider client={queryClient}>
          <RouterProvider router={router} />
          <ReauthModal />
        </QueryClientProvider>
      </AntApp>
    </ConfigProvider>
  );
}
