// One flare: its facts, the light curve of its science file in the preview bands with the
// image boxes drawn, a drag on the curve (or typed times) choosing a time window that filters
// the image table (the Data Center's "IMG" behaviour), and the image table with its actions.
// The window is kept in the query string (?from=…&to=…).
import { h, render, utc, num, hpc, hms, errorBox, title } from '../dom.js';
import { gql } from '../gql.js';
import { imageTable, IMAGE_FIELDS, PAGE } from '../imagetable.js';
import { lightCurvePlot, LIGHT_CURVE_FIELDS } from '../lightcurve.js';

const FLARE = `query Flare($flareId: BigInt!) {
  flare(flareId: $flareId) {
    flareId startTime peakTime endTime goesClass attenuatorIn source imageCount
    peakCounts { kev410 }
    location { xArcsec yArcsec }
    previewSkips { algorithm energyLowKev energyHighKev timeStart timeEnd reason }
    scienceFiles { requestUid version fileName productKind obsStart obsEnd }
    boxes: images(first: 100, orderBy: { field: TIME_START, direction: ASC }) {
      nodes { timeStart timeEnd energyLowKev energyHighKev }
    }
  }
}`;

const IMAGES = `query FlareImages($flareId: BigInt!, $first: Int, $after: String, $time: TimeWindow) {
  flare(flareId: $flareId) {
    images(first: $first, after: $after, filter: { time: $time }, orderBy: { field: TIME_START, direction: ASC }) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { ${IMAGE_FIELDS} }
    }
  }
}`;

const CURVE = `query Curve($uid: BigInt!, $bands: [EnergyBandInput!]!) {
  scienceFile(uid: $uid) { lightCurve(bands: $bands) { ${LIGHT_CURVE_FIELDS} } }
}`;

/** The distinct preview bands of the flare's images (requested edges rounded), else 4–10 and 16–28 keV. */
function bandsOf(boxes) {
  const seen = new Map();
  for (const b of boxes) seen.set(`${Math.round(b.energyLowKev)}-${Math.round(b.energyHighKev)}`, { lowKev: Math.round(b.energyLowKev), highKev: Math.round(b.energyHighKev) });
  const list = [...seen.values()].sort((a, b) => a.lowKev - b.lowKev);
  return list.length ? list : [{ lowKev: 4, highKev: 10 }, { lowKev: 16, highKev: 28 }];
}

function localInput(iso) { return iso ? new Date(iso).toISOString().slice(0, 19) : ''; }

export default async function flarePage(main, flareId) {
  title(`Flare ${flareId}`);
  render(main, h('h1', {}, `Flare ${flareId}`), h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  let flare;
  try {
    flare = (await gql(FLARE, { flareId })).flare;
  } catch (e) {
    render(main, h('h1', {}, `Flare ${flareId}`), errorBox(e));
    return;
  }
  const params = new URLSearchParams(location.search);
  const win = { from: params.get('from') || null, to: params.get('to') || null };
  const files = flare.scienceFiles.filter((f) => f.productKind === 'FLARE_PIXEL_DATA');
  const dl = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
  const facts = h('dl', { class: 'facts' },
    dl('GOES class', flare.goesClass || '–'),
    dl('Start / peak / end (UTC)', `${utc(flare.startTime)} / ${hms(flare.peakTime)} / ${hms(flare.endTime)}`),
    dl('Peak counts (4–10 keV)', num(flare.peakCounts?.kev410)),
    dl('Location', hpc(flare.location)),
    dl('Attenuator', flare.attenuatorIn === null ? '–' : (flare.attenuatorIn ? 'in' : 'out')),
    dl('Source', flare.source === 'DETECTED' ? 'detected in the file' : 'flare list'),
    dl('Images', String(flare.imageCount)),
    dl('Science data', files.length ? files.map((f) => h('span', {}, h('a', { href: `/science-file/${f.requestUid}` }, f.fileName), ' ')) : '–'));
  const plotBox = h('div', { class: 'plot', id: 'lightcurve', role: 'img', 'aria-label': 'Light curve with the image boxes shaded; drag to choose a time window' });
  const from = h('input', { type: 'datetime-local', step: 1, id: 'window-from', value: localInput(win.from) });
  const to = h('input', { type: 'datetime-local', step: 1, id: 'window-to', value: localInput(win.to) });
  const windowLabel = h('span', { id: 'window-label', 'aria-live': 'polite' });
  const windowForm = h('form', { class: 'filters', id: 'window-form', 'aria-label': 'Time window of the image table' },
    h('label', {}, 'Window start (UTC)', from),
    h('label', {}, 'Window end (UTC)', to),
    h('button', { type: 'submit' }, 'Show images of this window'),
    h('button', { type: 'button', class: 'secondary', id: 'window-clear' }, 'All images'),
    windowLabel);
  const tableBox = h('section', { 'aria-labelledby': 'images-h' });
  const skips = flare.previewSkips.length
    ? h('details', {}, h('summary', {}, `${flare.previewSkips.length} planned preview(s) not made`),
      h('ul', {}, flare.previewSkips.map((s) => h('li', {}, `${hms(s.timeStart)}–${hms(s.timeEnd)}, ${num(s.energyLowKev, 1)}–${num(s.energyHighKev, 1)} keV${s.algorithm ? `, ${s.algorithm}` : ''}: ${s.reason}`))))
    : '';
  render(main,
    h('h1', {}, `Flare ${flare.flareId}`, flare.goesClass ? ` (${flare.goesClass})` : ''),
    facts, skips,
    h('h2', {}, 'Light curve'),
    h('p', { class: 'plot-help' }, 'Shaded: the time boxes of the images. Drag across the curve, or type the times below, to list the images of a time window.'),
    plotBox, windowForm,
    h('h2', { id: 'images-h' }, 'Images'), tableBox);

  const table = imageTable(tableBox, async (after) => {
    const time = win.from && win.to ? { from: win.from, to: win.to } : null;
    return (await gql(IMAGES, { flareId, first: PAGE, after, time })).flare.images;
  }, { caption: `Images of flare ${flare.flareId}, earliest first` });

  let plot = null;
  const setWindow = (a, b, fromPlot) => {
    win.from = a; win.to = b;
    const p = new URLSearchParams(location.search);
    if (a && b) { p.set('from', a); p.set('to', b); } else { p.delete('from'); p.delete('to'); }
    history.replaceState(null, '', `${location.pathname}${p.toString() ? `?${p}` : ''}`);
    from.value = localInput(a); to.value = localInput(b);
    windowLabel.textContent = a && b ? `Window ${hms(a)}–${hms(b)} UTC` : 'All images';
    if (plot && !fromPlot) plot.setWindow(a, b);
    table.reload();
  };
  windowForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!from.value || !to.value) return;
    setWindow(new Date(`${from.value}Z`).toISOString(), new Date(`${to.value}Z`).toISOString(), false);
  });
  document.getElementById('window-clear').addEventListener('click', () => setWindow(null, null, false));
  windowLabel.textContent = win.from && win.to ? `Window ${hms(win.from)}–${hms(win.to)} UTC` : 'All images';
  const tableReady = table.reload();

  if (files.length) {
    try {
      const bands = bandsOf(flare.boxes.nodes);
      const lc = (await gql(CURVE, { uid: files[0].requestUid, bands })).scienceFile.lightCurve;
      const boxes = flare.boxes.nodes.map((b) => ({ from: b.timeStart, to: b.timeEnd }));
      plot = lightCurvePlot(plotBox, lc, {
        boxes,
        window: win.from && win.to ? win : null,
        onSelect: (a, b) => setWindow(a, b, true),
      });
      plotBox.dataset.ready = 'true';
    } catch (e) {
      plotBox.append(errorBox(e));
    }
  } else {
    plotBox.append(h('p', { class: 'muted' }, 'No science file of this flare is in the archive.'));
  }
  await tableReady;
}
