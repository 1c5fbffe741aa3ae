// A virtualised list: only the rows in view (plus a margin) are in the DOM,
// so a list of thousands of functions scrolls and filters as fast as one
// of ten. Rows have one fixed height, set in CSS as --row-height.

import { h } from '/_lamina/console/dom.js';

const OVERSCAN = 8;

export function virtualList({ rowHeight, render, label }) {
  const rows = h('div', { class: 'vlist-rows' });
  const spacer = h('div', { class: 'vlist-spacer' }, rows);
  const viewport = h('div', { class: 'vlist', role: 'rowgroup', 'aria-label': label, tabindex: '-1' }, spacer);
  viewport.style.setProperty('--row-height', `${rowHeight}px`);
  let items = [];
  let shown = [-1, -1];
  let frame = 0;

  function paint(force) {
    frame = 0;
    const height = viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(viewport.scrollTop / rowHeight) - OVERSCAN);
    const last = Math.min(items.length, Math.ceil((viewport.scrollTop + height) / rowHeight) + OVERSCAN);
    if (!force && first === shown[0] && last === shown[1]) return;
    shown = [first, last];
    rows.style.transform = `translateY(${first * rowHeight}px)`;
    const nodes = [];
    for (let i = first; i < last; i++) nodes.push(render(items[i], i));
    rows.replaceChildren(...nodes);
  }

  viewport.addEventListener('scroll', () => {
    if (!frame) frame = requestAnimationFrame(() => paint(false));
  });
  new ResizeObserver(() => paint(false)).observe(viewport);

  return {
    el: viewport,
    setItems(next, { keepScroll = true } = {}) {
      items = next;
      spacer.style.height = `${items.length * rowHeight}px`;
      if (!keepScroll) viewport.scrollTop = 0;
      paint(true);
    },
    /** How many row elements are in the DOM right now (for tests and curiosity). */
    rendered: () => rows.childElementCount,
  };
}
