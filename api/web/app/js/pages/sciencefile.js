// One science file: metadata, light curve, and two tabs: "Preview" (the images made from it)
// and "Reconstruct" (the reconstruction form, for signed-in users only).
import { h, render, utc, num, errorBox, title } from '../dom.js';
import { gql, session } from '../gql.js';
import { imageTable, IMAGE_FIELDS, PAGE } from '../imagetable.js';
import { lightCurvePlot, LIGHT_CURVE_FIELDS } from '../lightcurve.js';
import { reconstructionForm } from '../reconstruct.js';

const FILE = `query File($uid: BigInt!) {
  scienceFile(uid: $uid) {
    requestUid productKind fileName version isLatest sha256 sizeBytes obsStart obsEnd nTimeBins
    energyLowKev energyHighKev attenuatorIn ingestedAt downloadUrl
    flares { flareId goesClass peakTime }
  }
}`;
const CURVE = `query Curve($uid: BigInt!, $bands: [EnergyBandInput!]!) {
  scienceFile(uid: $uid) { lightCurve(bands: $bands) { ${LIGHT_CURVE_FIELDS} } }
}`;
const IMAGES = `query FileImages($uid: BigInt!, $first: Int, $after: String) {
  scienceFile(uid: $uid) {
    images(first: $first, after: $after, orderBy: { field: TIME_START, direction: ASC }) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { ${IMAGE_FIELDS} }
    }
  }
}`;

export default async function scienceFilePage(main, uid) {
  title(`Science file ${uid}`);
  render(main, h('h1', {}, `Science file ${uid}`), h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  let file;
  try {
    file = (await gql(FILE, { uid })).scienceFile;
  } catch (e) {
    render(main, h('h1', {}, `Science file ${uid}`), errorBox(e));
    return;
  }
  const dl = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
  const facts = h('dl', { class: 'facts' },
    dl('File', h('span', {}, file.fileName, ' ', h('a', { href: file.downloadUrl, download: '' }, 'download'))),
    dl('Request UID', String(file.requestUid)),
    dl('Kind', file.productKind),
    dl('Version', `${file.version}${file.isLatest ? ' (latest)' : ' (a newer version exists)'}`),
    dl('Observation (UTC)', `${utc(file.obsStart)} – ${utc(file.obsEnd)}`),
    dl('Time bins', String(file.nTimeBins)),
    dl('Energy range', file.energyLowKev == null ? '–' : `${num(file.energyLowKev, 1)}–${num(file.energyHighKev, 1)} keV`),
    dl('Attenuator', file.attenuatorIn == null ? '–' : (file.attenuatorIn ? 'in during some bins' : 'out')),
    dl('Size', `${num(file.sizeBytes)} bytes`),
    dl('SHA-256', h('code', {}, file.sha256)),
    dl('Ingested', utc(file.ingestedAt)),
    dl('Flares', file.flares.length ? file.flares.map((f) => h('span', {}, h('a', { href: `/flare/${f.flareId}` }, `${f.flareId}${f.goesClass ? ` (${f.goesClass})` : ''}`), ' ')) : '–'));
  const plotBox = h('div', { class: 'plot', id: 'lightcurve', role: 'img', 'aria-label': 'Light curve; drag to choose the time range of a reconstruction' });
  const params = new URLSearchParams(location.search);
  const tabNames = [['preview', 'Preview'], ['reconstruct', 'Reconstruct']];
  let current = params.get('tab') === 'reconstruct' ? 'reconstruct' : 'preview';
  const panels = {};
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Science file views' });
  for (const [key, label] of tabNames) {
    panels[key] = h('section', { role: 'tabpanel', id: `panel-${key}`, 'aria-labelledby': `tab-${key}`, hidden: key !== current });
    tabs.append(h('button', {
      type: 'button', role: 'tab', id: `tab-${key}`, 'aria-controls': `panel-${key}`, 'aria-selected': String(key === current), tabindex: key === current ? 0 : -1,
      onclick: () => select(key),
      onkeydown: (ev) => {
        if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
        const i = tabNames.findIndex(([k]) => k === key);
        const next = tabNames[(i + (ev.key === 'ArrowRight' ? 1 : tabNames.length - 1)) % tabNames.length][0];
        select(next);
        document.getElementById(`tab-${next}`).focus();
      },
    }, label));
  }
  function select(key) {
    current = key;
    for (const [k] of tabNames) {
      const t = document.getElementById(`tab-${k}`);
      t.setAttribute('aria-selected', String(k === key));
      t.tabIndex = k === key ? 0 : -1;
      panels[k].hidden = k !== key;
    }
    const p = new URLSearchParams(location.search);
    p.set('tab', key);
    history.replaceState(null, '', `${location.pathname}?${p}`);
  }
  render(main, h('h1', {}, file.fileName), facts, h('h2', {}, 'Light curve'), plotBox, tabs, panels.preview, panels.reconstruct);

  const table = imageTable(panels.preview, async (after) =>
    (await gql(IMAGES, { uid, first: PAGE, after })).scienceFile.images, { caption: 'Images made from this file' });
  const tableReady = table.reload();

  let form = null;
  if (session()) {
    if (file.productKind === 'FLARE_PIXEL_DATA') form = reconstructionForm(panels.reconstruct, file, { onSucceeded: () => table.reload() });
    else render(panels.reconstruct, h('p', {}, 'Only flare pixel-data files can be reconstructed.'));
  } else {
    render(panels.reconstruct, h('p', { id: 'signin-to-reconstruct' },
      h('a', { href: `/signin?next=${encodeURIComponent(`${location.pathname}?tab=reconstruct`)}` }, 'Sign in'),
      ' or ', h('a', { href: '/register' }, 'register'), ' to reconstruct images from this file.'));
  }

  if (file.productKind === 'FLARE_PIXEL_DATA' || file.productKind === 'BACKGROUND') {
    try {
      const bands = [{ lowKev: 4, highKev: 10 }, { lowKev: 16, highKev: 28 }];
      const lc = (await gql(CURVE, { uid, bands })).scienceFile.lightCurve;
      await lightCurvePlot(plotBox, lc, { onSelect: (a, b) => { if (form) { form.setTime(a, b); select('reconstruct'); } } });
      plotBox.dataset.ready = 'true';
    } catch (e) {
      plotBox.append(errorBox(e));
    }
  } else {
    plotBox.append(h('p', { class: 'muted' }, 'No light curve: this is not a pixel-data file.'));
  }
  await tableReady;
}
