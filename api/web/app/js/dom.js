// Small DOM and formatting helpers shared by the pages: element construction that never
// parses strings as HTML, and the units the archive shows.

/** Creates an element: h('a', {href: '/x', class: 'c'}, 'text', child…). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the content of `el`. */
export function render(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** UTC time as `YYYY-MM-DD HH:MM:SS`. */
export function utc(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

/** UTC time of day `HH:MM:SS`. */
export function hms(iso) { return new Date(iso).toISOString().slice(11, 19); }

/** Duration in seconds between two ISO times. */
export function seconds(a, b) { return (new Date(b) - new Date(a)) / 1000; }

/** A number with a few significant digits, or '–'. */
export function num(x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return Number(x).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** An energy band `4–10 keV`. */
export function band(lo, hi) { return `${num(lo, 1)}–${num(hi, 1)} keV`; }

/** A helioprojective position `(x″, y″)`. */
export function hpc(p) { return p ? `(${num(p.xArcsec, 1)}″, ${num(p.yArcsec, 1)}″)` : '–'; }

/** The algorithm names the Data Center uses. */
export const ALGORITHM_LABEL = {
  BP: 'Back-projection', BP_UNIFORM: 'BP (uniform)', CLEAN: 'CLEAN', MEM: 'MEM_GE', EM: 'EM', FWDFIT: 'VIS_FWDFIT',
};

/** An error message block. */
export function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, `Error: ${e.message || e}`);
}

/** Sets the document title. */
export function title(t) { document.title = `${t} · STIX flare image archive`; }
