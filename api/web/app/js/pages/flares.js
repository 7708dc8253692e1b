// The flare list: a paged table sorted on the server (peak time or peak counts), filtered by
// time range, minimum counts and whether the flare has images. The whole view state lives in
// the query string, so a link reproduces it; filters are a plain GET form, sort headers and
// pager are plain links.
import { h, render, utc, num, hpc, errorBox, title } from '../dom.js';
import { gql } from '../gql.js';

const PAGE = 25;

const QUERY = `query Flares($first: Int, $after: String, $last: Int, $before: String, $filter: FlareFilter, $orderBy: FlareOrder) {
  flares(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes {
      flareId peakTime goesClass attenuatorIn imageCount
      peakCounts { kev410 }
      location { xArcsec yArcsec }
    }
  }
}`;

/**
 * The thumbnail candidates of one flare: all its current 4–10 keV previews (a flare has a
 * few boxes times a few algorithms, well under a page), with their grades. One request per
 * flare with images, sent in parallel after the table is drawn; the best is chosen here
 * because the ranking (grade, algorithm, distance from the peak) is no server order.
 */
const THUMBNAIL = `query Thumbnail($flareId: BigInt!) {
  flare(flareId: $flareId) {
    images(first: 100, filter: { energyKev: 7, kind: PREVIEW, current: true }) {
      nodes { id algorithm timeStart timeEnd pngUrl quality { grade } }
    }
  }
}`;

const GRADE_RANK = { GOOD: 0, FAIR: 1, POOR: 2 };
const ALG_RANK = { CLEAN: 0, MEM: 1, EM: 2, FWDFIT: 3, BP: 4, BP_UNIFORM: 5 };

/**
 * The image shown as the flare's thumbnail: best grade (GOOD, FAIR, POOR, then ungraded),
 * then CLEAN first, then the middle of its interval nearest the peak.
 */
export function bestImage(images, peakTime) {
  const peak = new Date(peakTime).getTime();
  const dist = (i) => Math.abs((new Date(i.timeStart).getTime() + new Date(i.timeEnd).getTime()) / 2 - peak);
  return [...images].sort((a, b) =>
    (GRADE_RANK[a.quality?.grade] ?? 3) - (GRADE_RANK[b.quality?.grade] ?? 3)
    || (ALG_RANK[a.algorithm] ?? 9) - (ALG_RANK[b.algorithm] ?? 9)
    || dist(a) - dist(b))[0];
}

function toIso(v, endOfDay) {
  if (!v) return undefined;
  const s = v.length === 10 ? `${v}T${endOfDay ? '23:59:59' : '00:00:00'}Z` : (v.endsWith('Z') ? v : `${v}Z`);
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function link(params, changes) {
  const p = new URLSearchParams(params);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === '') p.delete(k); else p.set(k, v);
  }
  const q = p.toString();
  return q ? `/?${q}` : '/';
}

export default async function flares(main) {
  title('Flares');
  const params = new URLSearchParams(location.search);
  const sort = params.get('sort') === 'peakCounts' ? 'peakCounts' : 'peakTime';
  const dir = params.get('dir') === 'asc' ? 'asc' : 'desc';
  const hasImages = params.get('hasImages') || '';
  const filter = {};
  const from = toIso(params.get('from'), false);
  const to = toIso(params.get('to'), true);
  if (from || to) filter.time = { from, to };
  const minCounts = parseFloat(params.get('minCounts') || '');
  if (!Number.isNaN(minCounts)) filter.minPeakCounts = minCounts;
  if (hasImages === 'yes') filter.hasImages = true;
  if (hasImages === 'no') filter.hasImages = false;
  const vars = {
    filter,
    orderBy: { field: sort === 'peakCounts' ? 'PEAK_COUNTS' : 'PEAK_TIME', direction: dir === 'asc' ? 'ASC' : 'DESC' },
  };
  if (params.get('before')) { vars.last = PAGE; vars.before = params.get('before'); } else { vars.first = PAGE; vars.after = params.get('after') || undefined; }

  const form = h('form', { class: 'filters', method: 'get', action: '/', 'aria-label': 'Filter flares' },
    h('label', {}, 'Flares from (UTC date)', h('input', { type: 'date', name: 'from', value: params.get('from') || '' })),
    h('label', {}, 'Flares to (UTC date)', h('input', { type: 'date', name: 'to', value: params.get('to') || '' })),
    h('label', {}, 'Minimum 4–10 keV peak counts', h('input', { type: 'number', name: 'minCounts', min: 0, step: 'any', value: params.get('minCounts') || '' })),
    h('label', {}, 'Images',
      h('select', { name: 'hasImages' },
        h('option', { value: '', selected: hasImages === '' }, 'any'),
        h('option', { value: 'yes', selected: hasImages === 'yes' }, 'with images'),
        h('option', { value: 'no', selected: hasImages === 'no' }, 'without images'))),
    h('input', { type: 'hidden', name: 'sort', value: sort }),
    h('input', { type: 'hidden', name: 'dir', value: dir }),
    h('button', { type: 'submit' }, 'Apply filters'),
    h('a', { href: '/' }, 'Clear'));
  // Empty fields are left out of the URL.
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v !== '') p.set(k, v);
    location.href = link(p, {});
  });
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading flares…');
  const tableHolder = h('div', { class: 'table-wrap' });
  render(main, h('h1', {}, 'Flares'), form, status, tableHolder);

  let data;
  try {
    data = (await gql(QUERY, vars)).flares;
  } catch (e) {
    render(status, errorBox(e));
    return;
  }
  status.textContent = `${data.totalCount} flare${data.totalCount === 1 ? '' : 's'} match.`;

  const base = new URLSearchParams(params);
  base.delete('after'); base.delete('before');
  const sortHeader = (key, label, cls) => {
    const active = sort === key;
    const nextDir = active && dir === 'desc' ? 'asc' : 'desc';
    return h('th', { class: cls, 'aria-sort': active ? (dir === 'asc' ? 'ascending' : 'descending') : 'none', scope: 'col' },
      h('a', { class: 'sort', href: link(base, { sort: key, dir: nextDir }), title: `Sort by ${label.toLowerCase()}` },
        label, active ? (dir === 'asc' ? ' ▲' : ' ▼') : ''));
  };
  const rows = data.nodes.map((f) => {
    return h('tr', { dataset: { flareId: f.flareId } },
      h('td', {}, h('a', { href: `/flare/${f.flareId}` }, String(f.flareId))),
      h('td', {}, utc(f.peakTime)),
      h('td', {}, f.goesClass || '–'),
      h('td', { class: 'num' }, num(f.peakCounts?.kev410)),
      h('td', {}, hpc(f.location)),
      h('td', {}, f.attenuatorIn === null || f.attenuatorIn === undefined ? '–' : (f.attenuatorIn ? 'in' : 'out')),
      h('td', { class: 'num' }, String(f.imageCount)),
      h('td', { class: 'thumb-cell' }));
  });
  const table = h('table', { id: 'flares' },
    h('caption', { class: 'muted', style: 'text-align:left' }, 'STIX flares; times are UTC at Solar Orbiter'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Flare id'),
      sortHeader('peakTime', 'Peak time (UTC)', ''),
      h('th', { scope: 'col' }, 'GOES class'),
      sortHeader('peakCounts', 'Peak counts (4–10 keV)', 'num'),
      h('th', { scope: 'col' }, 'Location'),
      h('th', { scope: 'col' }, 'Attenuator'),
      h('th', { scope: 'col', class: 'num' }, 'Images'),
      h('th', { scope: 'col' }, 'Best 4–10 keV image'))),
    h('tbody', {}, rows));
  const pi = data.pageInfo;
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
    pi.hasPreviousPage ? h('a', { href: link(base, { before: pi.startCursor }), rel: 'prev' }, '← Previous') : h('span', { class: 'muted' }, '← Previous'),
    pi.hasNextPage ? h('a', { href: link(base, { after: pi.endCursor }), rel: 'next' }, 'Next →') : h('span', { class: 'muted' }, 'Next →'));
  render(tableHolder, table, pager);

  const withImages = data.nodes.filter((f) => f.imageCount > 0);
  const thumbnail = async (f) => {
    const candidates = (await gql(THUMBNAIL, { flareId: f.flareId })).flare.images.nodes;
    const best = bestImage(candidates, f.peakTime);
    const cell = table.querySelector(`tr[data-flare-id="${f.flareId}"] .thumb-cell`);
    if (best && cell) {
      render(cell, h('a', { href: `/flare/${f.flareId}`, tabindex: -1, 'aria-hidden': 'true' },
        h('img', {
          class: 'thumb', src: best.pngUrl, alt: '', width: 64, height: 64,
          dataset: { imageId: best.id, grade: best.quality?.grade || '' },
          title: `${best.quality?.grade || 'ungraded'}, ${best.algorithm}, ${utc(best.timeStart)}`,
        })));
    }
  };
  const failed = (await Promise.allSettled(withImages.map(thumbnail))).find((r) => r.status === 'rejected');
  if (failed) status.append(' ', errorBox(failed.reason));
}
