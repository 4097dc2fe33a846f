import { createBrowserRouter, Navigate } from 'react-router';
import { FullPageSpin } from './auth/FullPageSpin';
import { HomeRedirect } from './auth/HomeRedirect';
import { NotFound } from './auth/NotFound';
import { RouteError } from './components/PageError';

/**
 * The two areas load on demand: someone using the portal never downloads the admin pages, and the
 * sign-in page loads neither. Each area's own routes (and menu) are in `admin/AdminArea.tsx` and
 * `console/ConsoleArea.tsx`.
 */
export const router = createBrowserRouter([
  {
    // A lazy area whose code cannot be fetched (say, after an upgrade) or a render error outside a
    // page ends here, in words, instead of react-router's developer screen.
    ErrorBoundary: RouteError,
    children: [
      { path: '/', element: <HomeRedirect /> },
      { path: '/login', element: <Navigate to="/console/login" replace /> },
      { path: '/admin/login', HydrateFallback: FullPageSpin, lazy: async () => ({ Component: (await import('./auth/SignInPage')).AdminSignIn }) },
      { path: '/console/sign-up', HydrateFallback: FullPageSpin, lazy: async () => ({ Component: (await import('./auth/SignUpPage')).ConsoleSignUp }) },
      { path: '/console/forgot-password', HydrateFallback: FullPageSpin, lazy: async () => ({ Component: (await import('./auth/PasswordResetPages')).ForgotPassword }) },
      { path: '/console/reset-password', HydrateFallback: FullPageSpin, lazy: async () => ({ Component: (await import('./auth/PasswordResetPages')).ResetPassword }) },
      { path: '/console/verify-email', HydrateFallback: FullPageSpin, lazy: async () => ({ Component: (await import('./auth/PasswordResetPages')).VerifyEmail }) },
      { path: '/console/login', HydrateFallback: FullPageSpin, lazy: async () => ({ Component: (await import('./auth/SignInPage')).ConsoleSignIn }) },
      { path: '/admin/*', HydrateFallback: FullPageSpin, lazy: async () => ({ Component: (await import('./admin/AdminArea')).default }) },
      { path: '/console/*', HydrateFallback: FullPageSpin, lazy: async () => ({ Component: (await import('./console/ConsoleArea')).default }) },
      { path: '*', element: <NotFound /> },
    ],
  },
]);
