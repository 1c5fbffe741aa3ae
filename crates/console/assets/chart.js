// Small SVG time-series charts: bars for counts, lines for levels, a shared
// hover readout. Sized to their container and redrawn when it resizes.

import { h, s, mount } from '/_lamina/console/dom.js';
import { compact, clock } from '/_lamina/console/format.js';

const HEIGHT = 170;
const PAD = { left: 42, right: 10, top: 10, bottom: 22 };

/** A round upper bound for the y axis and its tick step. */
export function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { max: 1, step: 0.25 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw);
  return { max: step * Math.ceil(max / step - 1e-9), step };
}

const defined = (se, p) => !se.gaps || (Number(p.invocations) || 0) > 0;

function timeStep(spanSecs, width) {
  const fit = Math.max(2, Math.floor(width / 70));
  const steps = [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200];
  return steps.find((st) => spanSecs / st <= fit) || 86400;
}

/**
 * chart({title, series: [{label, key, color}], kind: 'bar'|'line', format})
 * returns {el, update(points, range)}: points are the series endpoint's
 * per-minute objects; range is {from, to} in epoch seconds.
 */
export function chart({ title, series, kind = 'line', format = compact, note }) {
  const plot = h('div', { class: 'chart-plot' });
  const tip = h('div', { class: 'chart-tip', hidden: true });
  const legend = h(
    'div',
    { class: 'chart-legend' },
    series.map((se) => h('span', { class: 'key' }, h('i', { class: `swatch c-${se.color}` }), se.label)),
  );
  const summary = h('span', { class: 'chart-summary' });
  const el = h(
    'figure',
    { class: 'card chart', 'data-chart': title },
    h('figcaption', null, h('span', { class: 'chart-title' }, title), summary),
    plot,
    tip,
    legend,
    note ? h('p', { class: 'muted small' }, note) : null,
  );
  let points = [];
  let range = null;

  function draw() {
    const width = Math.max(240, plot.clientWidth || 480);
    const innerW = width - PAD.left - PAD.right;
    const innerH = HEIGHT - PAD.top - PAD.bottom;
    const from = range ? range.from : points.length ? points[0].t : Math.floor(Date.now() / 1000) - 3600;
    const to = range ? range.to : points.length ? points[points.length - 1].t + 60 : from + 3600;
    const span = Math.max(60, to - from);
    const x = (t) => PAD.left + ((t - from) / span) * innerW;
    let max = 0;
    for (const p of points) for (const se of series) max = Math.max(max, Number(p[se.key]) || 0);
    const scale = niceScale(max);
    const y = (v) => PAD.top + innerH - (v / scale.max) * innerH;

    const svg = s('svg', { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img', 'aria-label': title });
    const grid = s('g', { class: 'grid-lines' });
    for (let v = 0; v <= scale.max + 1e-9; v += scale.step) {
      grid.appendChild(s('line', { x1: PAD.left, x2: width - PAD.right, y1: y(v), y2: y(v) }));
      grid.appendChild(s('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end', text: format(v) }));
    }
    const stepT = timeStep(span, innerW);
    for (let t = Math.ceil(from / stepT) * stepT; t <= to; t += stepT) {
      // A label at the very edge would collide with the y axis labels.
      if (x(t) < PAD.left + 16 || x(t) > width - PAD.right) continue;
      grid.appendChild(s('line', { class: 'tick', x1: x(t), x2: x(t), y1: PAD.top + innerH, y2: PAD.top + innerH + 4 }));
      grid.appendChild(s('text', { x: x(t), y: HEIGHT - 5, 'text-anchor': 'middle', text: clock(t * 1000).slice(0, 5) }));
    }
    svg.appendChild(grid);

    const slot = innerW / (span / 60);
    series.forEach((se, i) => {
      if (!points.length) return;
      if (kind === 'bar') {
        const bw = Math.max(1, (slot * 0.8) / series.length);
        let d = '';
        for (const p of points) {
          const v = Number(p[se.key]) || 0;
          if (v <= 0) continue;
          const x0 = x(p.t) + slot * 0.1 + i * bw;
          d += `M${x0.toFixed(1)} ${y(v).toFixed(1)}h${bw.toFixed(1)}V${y(0).toFixed(1)}h${(-bw).toFixed(1)}Z`;
        }
        if (d) svg.appendChild(s('path', { class: `bar c-${se.color}`, d }));
      } else {
        // With `gaps`, minutes without invocations break the line instead of
        // dragging it to zero (a duration of 0 ms would be a lie).
        let d = '';
        let pen = false;
        points.forEach((p, j) => {
          if (!defined(se, p)) {
            pen = false;
            return;
          }
          const px = (x(p.t) + slot / 2).toFixed(1);
          const py = y(Number(p[se.key]) || 0).toFixed(1);
          d += `${pen ? 'L' : 'M'}${px} ${py}`;
          const next = points[j + 1];
          if (!pen && !(next && defined(se, next))) svg.appendChild(s('circle', { class: `point c-${se.color}`, cx: px, cy: py, r: 2.5 }));
          pen = true;
        });
        if (i === 0 && !se.gaps && d) {
          const first = x(points[0].t) + slot / 2;
          const last = x(points[points.length - 1].t) + slot / 2;
          svg.appendChild(s('path', { class: `area c-${se.color}`, d: `${d}L${last.toFixed(1)} ${y(0)}L${first.toFixed(1)} ${y(0)}Z` }));
        }
        if (d) svg.appendChild(s('path', { class: `line c-${se.color}`, d }));
      }
    });
    if (max === 0) {
      svg.appendChild(s('text', { class: 'no-data', x: PAD.left + innerW / 2, y: PAD.top + innerH / 2, 'text-anchor': 'middle', text: points.length ? 'Nothing in this period' : 'No data' }));
    }

    const cursor = s('line', { class: 'cursor', y1: PAD.top, y2: PAD.top + innerH, visibility: 'hidden' });
    svg.appendChild(cursor);
    const overlay = s('rect', { class: 'overlay', x: PAD.left, y: PAD.top, width: innerW, height: innerH });
    overlay.addEventListener('mousemove', (ev) => {
      if (!points.length) return;
      const box = svg.getBoundingClientRect();
      const t = from + ((ev.clientX - box.left - PAD.left) / innerW) * span;
      const idx = Math.max(0, Math.min(points.length - 1, Math.floor((t - points[0].t) / 60)));
      const p = points[idx];
      const cx = x(p.t) + slot / 2;
      cursor.setAttribute('x1', cx);
      cursor.setAttribute('x2', cx);
      cursor.setAttribute('visibility', 'visible');
      mount(
        tip,
        h('div', { class: 'tip-time' }, clock(p.t * 1000).slice(0, 5)),
        series.map((se) =>
          h('div', null, h('i', { class: `swatch c-${se.color}` }), `${se.label}: `, h('b', null, defined(se, p) ? format(Number(p[se.key]) || 0) : '—')),
        ),
      );
      tip.hidden = false;
      const left = Math.min(cx + 12, width - tip.offsetWidth - 4);
      tip.style.left = `${cx + 12 + tip.offsetWidth > width ? cx - tip.offsetWidth - 12 : left}px`;
      tip.style.top = `${PAD.top + 30}px`;
    });
    overlay.addEventListener('mouseleave', () => {
      cursor.setAttribute('visibility', 'hidden');
      tip.hidden = true;
    });
    svg.appendChild(overlay);
    mount(plot, svg);
  }

  let lastWidth = 0;
  const observer = new ResizeObserver(() => {
    if (plot.clientWidth !== lastWidth) {
      lastWidth = plot.clientWidth;
      draw();
    }
  });
  observer.observe(plot);

  return {
    el,
    update(next, nextRange, summaryText) {
      points = next || [];
      range = nextRange || null;
      summary.textContent = summaryText || '';
      draw();
    },
    disconnect: () => observer.disconnect(),
  };
}
