// One flare: its facts, the light curve of its science file in the preview bands with the
// image boxes drawn, a drag on the curve (or typed times) choosing a time window that filters
// the image table (the Data Center's "IMG" behaviour), and the image table with its actions.
// A checkbox hides POOR images (the API's `minQuality: FAIR`, which also leaves out ungraded
// ones). The window and the checkbox are kept in the query string
// (?from=…&to=…&minQuality=FAIR), so a link reproduces the view. The flare (with its light curve)
// and the image table are fetched in parallel, so the page is interactive after one round.
import { h, render, utc, num, hpc, hms, errorBox, title } from '../dom.js';
import { gql } from '../gql.js';
import { imageTable, IMAGE_FIELDS, PAGE } from '../imagetable.js';
import { lightCurvePlot, LIGHT_CURVE_FIELDS } from '../lightcurve.js';

/** The preview bands drawn on the curve, keV. */
const PREVIEW_BANDS = [{ lowKev: 4, highKev: 10 }, { lowKev: 16, highKev: 28 }];

const FLARE = `query Flare($flareId: BigInt!, $bands: [EnergyBandInput!]!) {
  flare(flareId: $flareId) {
    flareId startTime peakTime endTime goesClass attenuatorIn source imageCount
    peakCounts { kev410 }
    location { xArcsec yArcsec }
    previewSkips { algorithm energyLowKev energyHighKev timeStart timeEnd reason }
    scienceFiles {
      requestUid version fileName productKind
      lightCurve(bands: $bands) { ${LIGHT_CURVE_FIELDS} }
    }
    boxes: images(first: 100, filter: { current: true }, orderBy: { field: TIME_START, direction: ASC }) {
      nodes { timeStart timeEnd }
    }
  }
}`;

const IMAGES = `query FlareImages($flareId: BigInt!, $first: Int, $after: String, $time: TimeWindow, $minQuality: QualityGrade) {
  flare(flareId: $flareId) {
    images(first: $first, after: $after, filter: { time: $time, current: true, minQuality: $minQuality }, orderBy: { field: TIME_START, direction: ASC }) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { ${IMAGE_FIELDS} }
    }
  }
}`;

function localInput(iso) { return iso ? new Date(iso).toISOString().slice(0, 19) : ''; }

export default async function flarePage(main, flareId) {
  title(`Flare ${flareId}`);
  const params = new URLSearchParams(location.search);
  const win = { from: params.get('from') || null, to: params.get('to') || null };
  const hidePoor = h('input', { type: 'checkbox', id: 'hide-poor', 'aria-describedby': 'hide-poor-note', checked: params.get('minQuality') === 'FAIR' });
  const heading = h('h1', {}, `Flare ${flareId}`);
  const factsBox = h('div', {}, h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  const plotBox = h('div', { class: 'plot', id: 'lightcurve', role: 'img', 'aria-label': 'Light curve with the image boxes shaded; drag to choose a time window' });
  const from = h('input', { type: 'datetime-local', step: 1, id: 'window-from', value: localInput(win.from) });
  const to = h('input', { type: 'datetime-local', step: 1, id: 'window-to', value: localInput(win.to) });
  const windowLabel = h('span', { id: 'window-label', 'aria-live': 'polite' });
  const windowForm = h('form', { class: 'filters', id: 'window-form', 'aria-label': 'Which images the table shows' },
    h('label', {}, 'Window start (UTC)', from),
    h('label', {}, 'Window end (UTC)', to),
    h('button', { type: 'submit' }, 'Show images of this window'),
    h('button', { type: 'button', class: 'secondary', id: 'window-clear' }, 'All images'),
    h('label', { class: 'inline' }, hidePoor, 'Hide POOR images'),
    h('span', { class: 'muted', id: 'hide-poor-note' }, '(ungraded ones too)'),
    windowLabel);
  const tableBox = h('section', { 'aria-labelledby': 'images-h' });
  render(main, heading, factsBox,
    h('h2', {}, 'Light curve'),
    h('p', { class: 'plot-help' }, 'Shaded: the time boxes of the images. Drag across the curve, or type the times below, to list the images of a time window.'),
    plotBox, windowForm,
    h('h2', { id: 'images-h' }, 'Images'), tableBox);

  const table = imageTable(tableBox, async (after) => {
    const time = win.from && win.to ? { from: win.from, to: win.to } : null;
    const minQuality = hidePoor.checked ? 'FAIR' : null;
    return (await gql(IMAGES, { flareId, first: PAGE, after, time, minQuality })).flare.images;
  }, { caption: `Images of flare ${flareId}, earliest first` });

  let plot = null;
  const keepInUrl = () => {
    const p = new URLSearchParams(location.search);
    if (win.from && win.to) { p.set('from', win.from); p.set('to', win.to); } else { p.delete('from'); p.delete('to'); }
    if (hidePoor.checked) p.set('minQuality', 'FAIR'); else p.delete('minQuality');
    history.replaceState(null, '', `${location.pathname}${p.toString() ? `?${p}` : ''}`);
  };
  hidePoor.addEventListener('change', () => { keepInUrl(); table.reload(); });
  const setWindow = (a, b, fromPlot) => {
    win.from = a; win.to = b;
    keepInUrl();
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
  let flare;
  try {
    flare = (await gql(FLARE, { flareId, bands: PREVIEW_BANDS })).flare;
    performance.mark('flare:data');
  } catch (e) {
    render(factsBox, errorBox(e));
    await tableReady;
    return;
  }
  const files = flare.scienceFiles.filter((f) => f.productKind === 'FLARE_PIXEL_DATA');
  const dl = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
  render(heading, `Flare ${flare.flareId}`, flare.goesClass ? ` (${flare.goesClass})` : '');
  render(factsBox,
    h('dl', { class: 'facts' },
      dl('GOES class', flare.goesClass || '–'),
      dl('Start / peak / end (UTC)', `${utc(flare.startTime)} / ${hms(flare.peakTime)} / ${hms(flare.endTime)}`),
      dl('Peak counts (4–10 keV)', num(flare.peakCounts?.kev410)),
      dl('Location', hpc(flare.location)),
      dl('Attenuator', flare.attenuatorIn === null ? '–' : (flare.attenuatorIn ? 'in' : 'out')),
      dl('Source', flare.source === 'DETECTED' ? 'detected in the file' : 'flare list'),
      dl('Images', String(flare.imageCount)),
      dl('Science data', files.length ? files.map((f) => h('span', {}, h('a', { href: `/science-file/${f.requestUid}` }, f.fileName), ' ')) : '–')),
    flare.previewSkips.length
      ? h('details', {}, h('summary', {}, `${flare.previewSkips.length} planned preview(s) not made`),
        h('ul', {}, flare.previewSkips.map((s) => h('li', {}, `${hms(s.timeStart)}–${hms(s.timeEnd)}, ${num(s.energyLowKev, 1)}–${num(s.energyHighKev, 1)} keV${s.algorithm ? `, ${s.algorithm}` : ''}: ${s.reason}`))))
      : '');
  if (files.length) {
    const seen = new Set();
    const boxes = flare.boxes.nodes.filter((b) => !seen.has(b.timeStart + b.timeEnd) && seen.add(b.timeStart + b.timeEnd))
      .map((b) => ({ from: b.timeStart, to: b.timeEnd }));
    plot = await lightCurvePlot(plotBox, files[0].lightCurve, {
      boxes,
      window: win.from && win.to ? win : null,
      onSelect: (a, b) => setWindow(a, b, true),
    });
    plotBox.dataset.ready = 'true';
    performance.mark('flare:curve');
  } else {
    plotBox.append(h('p', { class: 'muted' }, 'No science file of this flare is in the archive.'));
  }
  await tableReady;
}
