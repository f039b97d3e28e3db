// Apache ECharts, only the parts the panels use, drawn as SVG (crisp at any size, text readable by
// assistive technology). Colours: the Okabe–Ito palette; bars also carry decal patterns (aria.decal).
import { BarChart, CustomChart, LineChart, ScatterChart } from 'echarts/charts';
import {
  AriaComponent,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TitleComponent,
  TooltipComponent,
} from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([
  BarChart,
  CustomChart,
  LineChart,
  ScatterChart,
  AriaComponent,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TitleComponent,
  TooltipComponent,
  SVGRenderer,
]);

export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
export const SYMBOLS = ['circle', 'rect', 'triangle', 'diamond', 'pin', 'arrow', 'roundRect', 'emptyCircle'];

export type ChartOption = echarts.EChartsCoreOption;

const charts = new Set<echarts.ECharts>();

/** Draws `option` into `el`; `label` is the chart's accessible name. */
export function drawChart(el: HTMLElement, option: ChartOption, label: string): echarts.ECharts {
  const chart = echarts.init(el, undefined, { renderer: 'svg' });
  chart.setOption({
    color: PALETTE,
    animation: false,
    textStyle: { fontFamily: 'system-ui, sans-serif' },
    // A tooltip drawn in the chart itself: no HTML with inline styles, which the page's CSP refuses.
    tooltip: { renderMode: 'richText', confine: true },
    aria: { enabled: true, label: { enabled: true, description: label }, decal: { show: true } },
    ...option,
  });
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', label);
  charts.add(chart);
  return chart;
}

export function disposeCharts(): void {
  for (const c of charts) c.dispose();
  charts.clear();
}

export function resizeCharts(): void {
  for (const c of charts) c.resize();
}
