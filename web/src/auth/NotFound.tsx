import { Button, Result } from 'antd';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';

export function NotFound({ home = '/' }: { home?: string }) {
  const { t } = useTranslation();
  return (
    <Result
      status="404"
      title={t('not_found.title')}
      subTitle={t('not_found.subtitle')}
      extra={
        <Link to={home}>
          <Button type="primary">{t('not_found.home')}</Button>
        </Link>
      }
    />
  );
}
