// Numbers, sizes, times and money, written the same way on every page.

const int = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export function count(n) {
  return int.format(Number(n) || 0);
}

/** 3 significant digits at most, as chart labels and tiles want them. */
export function compact(n) {
  n = Number(n) || 0;
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${trim(n / 1e9)}G`;
  if (abs >= 1e6) return `${trim(n / 1e6)}M`;
  if (abs >= 1e4) return `${trim(n / 1e3)}k`;
  return trim(n);
}

function trim(n) {
  if (Number.isInteger(n)) return String(n);
  const abs = Math.abs(n);
  return String(Number(n.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3)));
}

export function bytes(n) {
  n = Number(n) || 0;
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let i = -1;
  do {
    n /= 1024;
    i++;
  } while (n >= 1024 && i < units.length - 1);
  return `${trim(n)} ${units[i]}`;
}

export function ms(n) {
  n = Number(n) || 0;
  if (n >= 60000) return `${trim(n / 60000)} min`;
  if (n >= 1000) return `${trim(n / 1000)} s`;
  return `${trim(n)} ms`;
}

export function usd(n) {
  n = Number(n) || 0;
  if (n === 0) return '$0.00';
  // Local usage is often fractions of a cent: two significant digits, never exponents.
  if (Math.abs(n) < 0.01) return `$${n.toFixed(Math.min(12, 1 - Math.floor(Math.log10(Math.abs(n)))))}`;
  return `$${n.toFixed(2)}`;
}

function parseTime(t) {
  if (t === undefined || t === null || t === '') return null;
  if (typeof t === 'number') return new Date(t);
  // Lambda's LastModified: 2024-01-02T03:04:05.000+0000 (no colon in the offset).
  const d = new Date(String(t).replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
  return Number.isNaN(d.getTime()) ? null : d;
}

export function dateTime(t) {
  const d = parseTime(t);
  return d ? d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : '';
}

export function clock(t, withMs = false) {
  const d = parseTime(t);
  if (!d) return '';
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  const base = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withMs ? `${base}.${pad(d.getMilliseconds(), 3)}` : base;
}

export function ago(t, now = Date.now()) {
  const d = parseTime(t);
  if (!d) return '';
  const secs = Math.round((now - d.getTime()) / 1000);
  if (secs < 45) return 'just now';
  const steps = [
    [60, 'minute'],
    [24, 'hour'],
    [30, 'day'],
    [12, 'month'],
    [Infinity, 'year'],
  ];
  let value = secs / 60;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) {
      const v = Math.round(value);
      return `${v} ${unit}${v === 1 ? '' : 's'} ago`;
    }
    value /= size;
  }
  return '';
}

/** YYYY-MM-DD of a local date, days before today. */
export function dayBefore(days) {
  const d = new Date(Date.now() - days * 86400000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Pretty JSON when the text is JSON, the text unchanged otherwise. */
export function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
