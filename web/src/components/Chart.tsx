import { Skeleton } from 'antd';
import { lazy, Suspense } from 'react';
import type { ChartOption } from './EChart';

const EChart = lazy(() => import('./EChart'));

export type { ChartOption };

/** A chart; ECharts is fetched the first time one is shown. */
export function Chart(props: { option: ChartOption; height?: number; testId?: string }) {
  const height = props.height ?? 320;
  return (
    <Suspense fallback={<div style={{ height }}><Skeleton active paragraph={{ rows: 6 }} /></div>}>
      <EChart {...props} height={height} />
    </Suspense>
  );
}
