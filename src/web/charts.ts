// Geometry of the dashboard's server-rendered SVG charts, computed with d3's scales and shapes;
// the views only draw what these functions return.
import { scaleBand, scaleLinear, scaleTime } from 'd3-scale';
import { line } from 'd3-shape';
import { format } from 'date-fns/format';
import { parseISO } from 'date-fns/parseISO';
import { fr } from 'date-fns/locale/fr';

let frenchNumber: Intl.NumberFormat | undefined;

/** 1234.5 → "1 234,5": the French decimal comma and thousands space on every number a chart shows (one formatter, made once). */
export function chartNumber(value: number): string {
  frenchNumber ??= new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 1 });
  return frenchNumber.format(value);
}

/**
 * Axis ticks for a count of whole things (actions, fiches, failures): no "0,2 action" between 0 and 1.
 * d3 picks round steps; those that are not whole numbers are dropped.
 */
export function integerTicks(max: number, count = 4): number[] {
  const ticks = scaleLinear().domain([0, Math.max(1, max)]).nice().ticks(Math.min(count, Math.max(1, Math.ceil(max))));
  return ticks.filter((t) => Number.isInteger(t));
}

/** Where a label under an axis anchors: its last label ends at the edge instead of running past it. */
type Anchor = 'start' | 'middle' | 'end';
function anchorFor(x: number, width: number, room = 40): Anchor {
  if (x > width - room) return 'end';
  if (x < room) return 'start';
  return 'middle';
}

export interface BarChart {
  width: number;
  height: number;
  bars: { label: string; value: number; text: string; x: number; y: number; width: number; height: number; css: string }[];
  labelWidth: number;
}

/** Horizontal bars, one per category. */
export function barChart(data: { label: string; value: number; css: string }[], width = 560): BarChart {
  const labelWidth = 140;
  const rowHeight = 30;
  const height = data.length * rowHeight + 10;
  const y = scaleBand().domain(data.map((d) => d.label)).range([5, height - 5]).padding(0.25);
  const max = Math.max(1, ...data.map((d) => d.value));
  const x = scaleLinear().domain([0, max]).range([0, width - labelWidth - 50]);
  return {
    width, height, labelWidth,
    bars: data.map((d) => ({ label: d.label, value: d.value, text: chartNumber(d.value), x: labelWidth, y: y(d.label)!, width: x(d.value), height: y.bandwidth(), css: d.css })),
  };
}

export interface LineChart {
  width: number;
  height: number;
  path: string;
  points: { x: number; y: number; label: string; value: number }[];
  yTicks: { y: number; value: number; label: string }[];
  xTicks: { x: number; label: string; anchor: Anchor }[];
  margin: { left: number; bottom: number; top: number };
}

/** A line over months ("2026-03"), counting whole things (actions done): integer ticks only. */
export function lineChart(data: { month: string; value: number }[], width = 560, height = 220): LineChart {
  const margin = { left: 40, right: 15, top: 10, bottom: 30 };
  const x = scaleLinear().domain([0, Math.max(1, data.length - 1)]).range([margin.left, width - margin.right]);
  const max = Math.max(1, ...data.map((d) => d.value));
  const yTickValues = integerTicks(max);
  const y = scaleLinear().domain([0, Math.max(max, ...yTickValues)]).range([height - margin.bottom, margin.top]);
  const points = data.map((d, i) => ({ x: x(i), y: y(d.value), value: d.value, label: monthLabel(d.month) }));
  const every = Math.max(1, Math.ceil(data.length / 6));
  return {
    width, height, margin: { left: margin.left, bottom: margin.bottom, top: margin.top },
    path: line<{ x: number; y: number }>().x((p) => p.x).y((p) => p.y)(points) ?? '',
    points,
    yTicks: yTickValues.map((v) => ({ y: y(v), value: v, label: chartNumber(v) })),
    xTicks: points.filter((_, i) => i % every === 0).map((p) => ({ x: p.x, label: p.label, anchor: anchorFor(p.x, width) })),
  };
}

export interface Timeline {
  width: number;
  height: number;
  rows: { label: string; kind: 'fiche' | 'jalon'; x: number; y: number; date: string; late: boolean; done: boolean; href: string | null }[];
  today: number;
  ticks: { x: number; label: string; anchor: Anchor }[];
  labelWidth: number;
}

/** Target dates and milestones on one time axis, with today marked (a Gantt-like view). */
export function timeline(
  items: { label: string; kind: 'fiche' | 'jalon'; date: string; late: boolean; done: boolean; href: string | null }[], today: string, width = 900,
): Timeline {
  const labelWidth = 320;
  const rowHeight = 22;
  const height = items.length * rowHeight + 40;
  const dates = [...items.map((i) => parseISO(i.date)), parseISO(today)];
  const min = new Date(Math.min(...dates.map((d) => d.getTime())));
  const max = new Date(Math.max(...dates.map((d) => d.getTime())));
  const x = scaleTime().domain([min, max]).nice().range([labelWidth + 10, width - 20]);
  return {
    width, height, labelWidth,
    rows: items.map((item, i) => ({ ...item, x: x(parseISO(item.date)), y: 20 + i * rowHeight + rowHeight / 2 })),
    today: x(parseISO(today)),
    ticks: x.ticks(6).map((d) => ({ x: x(d), label: format(d, 'MMM yyyy', { locale: fr }), anchor: anchorFor(x(d), width) })),
  };
}

function monthLabel(month: string): string {
  return format(parseISO(`${month}-01`), 'MMM yyyy', { locale: fr });
}
