// The image table of the flare and science-file pages: up to 100 rows a page with checkboxes,
// the columns of the Data Center's archive table, per-image PNG/FITS/Python/IDL links and the
// full provenance, and the actions on a selection (FITS zip, animation, overlay). The quality
// column shows each image's grade; its reasons open from the grade (a <details>, so the
// keyboard reaches them) and the provenance adds the figures the grade was decided on.
import { h, render, utc, num, hpc, seconds, band, errorBox, ALGORITHM_LABEL } from './dom.js';
import { gql } from './gql.js';

/** Rows per page. */
export const PAGE = 100;

/** The GraphQL selection of an image, as the table row needs it. */
export const IMAGE_FIELDS = `id kind algorithm energyLowKev energyHighKev timeStart timeEnd createdAt
  fitsUrl pngUrl pythonScriptUrl idlScriptUrl
  scienceFile { requestUid }
  supersededBy { id }
  quality { grade reasons }`;

/**
 * The provenance of one image, asked for when its <details> is first opened (it is most of an
 * image's bytes, so the table does not carry it).
 */
const PROVENANCE = `query Provenance($id: ID!) {
  image(id: $id) {
    id kind energyLowKev energyHighKev timeStart timeEnd
    center { xArcsec yArcsec } peak { xArcsec yArcsec } totalCounts backgroundCounts totalFlux
    parameters policyVersion calibrationVersion softwareVersion fitsSha256
    scienceFile { requestUid version fileName }
    backgroundFile { requestUid version fileName }
    supersededBy { id createdAt }
    quality {
      grade reasons
      figures {
        totalCounts backgroundCounts netCounts snr peakCenterDistanceArcsec peakEdgeDistanceArcsec
        fovHalfWidthArcsec peakSpreadArcsec cleanResidualFraction memConverged memChi2Reduced
        fwdfitChi2Reduced fwdfitFluxUncertainty
      }
    }
  }
}`;

const ANIMATION = `mutation Animate($input: CreateAnimationInput!) {
  createAnimation(input: $input) { gifUrl pythonScriptUrl }
}`;
const OVERLAY = `mutation Overlay($input: CreateOverlayInput!) {
  createOverlay(input: $input) { pythonScriptUrl }
}`;

/** What a grade means when it has no reasons (the schema's description of GOOD). */
const NO_REASONS = 'No figure outside its bounds.';

/**
 * The quality cell of an image: '–' when it was made before grading; the grade, with its
 * reasons as the title and, when there are any, in a <details> opened from the grade (by
 * mouse or keyboard).
 */
function qualityCell(q) {
  if (!q) return h('td', { class: 'quality' }, h('span', { title: 'Not graded: made before image grading existed' }, '–'));
  const why = q.reasons.length ? q.reasons.join('\n') : NO_REASONS;
  const grade = h('span', { class: `grade grade-${q.grade}`, title: why }, q.grade);
  const n = q.reasons.length;
  return h('td', { class: 'quality', dataset: { grade: q.grade } }, n === 0 ? grade
    : h('details', { class: 'why' },
      h('summary', { 'aria-label': `${q.grade}, ${n} reason${n === 1 ? '' : 's'}` }, grade),
      h('ul', {}, q.reasons.map((r) => h('li', {}, r)))));
}

/** The quality rows of the provenance list: grade, reasons and the figures behind them. */
function qualityRows(q, row) {
  if (!q) return row('Quality', 'not graded (made before image grading existed)');
  const f = q.figures;
  const algorithmFigures = [
    f.peakSpreadArcsec != null && `peak spread ${num(f.peakSpreadArcsec, 1)}″`,
    f.cleanResidualFraction != null && `CLEAN residual/max ${num(f.cleanResidualFraction, 3)}`,
    f.memConverged != null && `MEM ${f.memConverged ? 'converged' : 'not converged'}`,
    f.memChi2Reduced != null && `MEM χ²/ν ${num(f.memChi2Reduced, 2)}`,
    f.fwdfitChi2Reduced != null && `VIS_FWDFIT χ²ᵣ ${num(f.fwdfitChi2Reduced, 2)}`,
    f.fwdfitFluxUncertainty != null && `VIS_FWDFIT flux uncertainty ${num(100 * f.fwdfitFluxUncertainty, 1)} %`,
  ].filter(Boolean);
  return [
    row('Quality', h('span', { class: `grade grade-${q.grade}` }, q.grade)),
    row('Quality reasons', q.reasons.length ? h('ul', { class: 'reasons' }, q.reasons.map((r) => h('li', {}, r))) : NO_REASONS),
    row('Quality figures', [
      `net counts ${num(f.netCounts)} (${num(f.totalCounts)} total − ${num(f.backgroundCounts, 1)} background), `,
      `SNR ${num(f.snr, 1)}, peak ${num(f.peakCenterDistanceArcsec, 1)}″ from the centre and `,
      `${num(f.peakEdgeDistanceArcsec, 1)}″ from the edge (half-width ${num(f.fovHalfWidthArcsec, 1)}″)`,
      algorithmFigures.length ? `; ${algorithmFigures.join(', ')}` : ''].join('')),
  ];
}

/** The provenance of `img`: a closed <details> whose list is drawn when it is first opened. */
function provenance(img) {
  const row = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
  const details = h('details', { class: 'prov' }, h('summary', {}, 'Provenance'));
  let asked = false;
  details.addEventListener('toggle', async () => {
    if (!details.open || asked) return;
    asked = true;
    const wait = h('p', { class: 'muted', role: 'status' }, 'Loading…');
    details.append(wait);
    try {
      wait.replaceWith(provenanceList((await gql(PROVENANCE, { id: img.id })).image, row));
    } catch (e) {
      wait.replaceWith(errorBox(e));
      asked = false;
    }
  });
  return details;
}

function provenanceList(img, row) {
  return h('dl', { class: 'facts' },
    row('Image id', h('code', {}, img.id)),
    row('Kind', img.kind),
    row('Interval (UTC)', `${utc(img.timeStart)} – ${utc(img.timeEnd)}`),
    row('Band', band(img.energyLowKev, img.energyHighKev)),
    row('Science file', img.scienceFile ? `${img.scienceFile.fileName} (UID ${img.scienceFile.requestUid}, version ${img.scienceFile.version})` : '–'),
    row('Background file', img.backgroundFile ? `${img.backgroundFile.fileName} (UID ${img.backgroundFile.requestUid})` : 'none'),
    row('Map centre', hpc(img.center)),
    row('Peak', hpc(img.peak)),
    row('Counts', `${num(img.totalCounts)} total, ${num(img.backgroundCounts, 1)} background`),
    row('Total flux', num(img.totalFlux, 3)),
    row('Parameters', h('code', {}, JSON.stringify(img.parameters))),
    row('Selection policy', img.policyVersion || '–'),
    row('Calibration', img.calibrationVersion),
    row('Software', img.softwareVersion),
    row('FITS SHA-256', h('code', {}, img.fitsSha256)),
    qualityRows(img.quality, row),
    row('Superseded by', img.supersededBy
      ? h('span', {}, h('code', {}, img.supersededBy.id), ` (made ${utc(img.supersededBy.createdAt)}); this image stays downloadable`)
      : 'nothing (current)'));
}

/**
 * An image table in `holder`. `load(after)` resolves to an ImageConnection of IMAGE_FIELDS.
 * Returns {reload()}.
 */
export function imageTable(holder, load, { caption = 'Images' } = {}) {
  const selected = new Map();
  let pages = [undefined];
  let page = 0;
  const status = h('p', { class: 'muted', role: 'status', id: 'images-status' });
  const tableWrap = h('div', { class: 'table-wrap' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Image pages' });
  const selInfo = h('span', { id: 'selection-count' }, '0 selected');
  const zip = h('a', { class: 'button', id: 'zip', href: '#', 'aria-disabled': 'true' }, 'Download FITS (zip)');
  const fps = h('input', { type: 'number', id: 'fps', min: 1, max: 30, value: 2, style: 'width:4rem' });
  const animate = h('button', { type: 'button', id: 'animate', disabled: true }, 'Create animation');
  const levels = h('input', { type: 'text', id: 'levels', value: '50,70,90', style: 'width:7rem' });
  const overlay = h('button', { type: 'button', id: 'overlay', disabled: true }, 'Create overlay');
  const clear = h('button', { type: 'button', class: 'secondary', id: 'clear-selection', disabled: true }, 'Clear selection');
  const result = h('div', { class: 'result', id: 'selection-result', 'aria-live': 'polite' });
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions on the selected images' },
    selInfo, zip,
    h('label', { class: 'inline' }, 'Frames/s', fps), animate,
    h('label', { class: 'inline' }, 'Contour levels (%)', levels),
    h('span', { class: 'muted' }, '(first selected = base map)'), overlay, clear);
  render(holder, status, actions, result, tableWrap, pager);

  const syncActions = () => {
    const ids = [...selected.keys()];
    selInfo.textContent = `${ids.length} selected`;
    if (ids.length) {
      zip.href = `/files/images.zip?ids=${ids.map(encodeURIComponent).join(',')}`;
      zip.removeAttribute('aria-disabled');
    } else {
      zip.href = '#';
      zip.setAttribute('aria-disabled', 'true');
    }
    animate.disabled = ids.length < 1;
    overlay.disabled = ids.length < 2;
    clear.disabled = ids.length < 1;
    for (const cb of tableWrap.querySelectorAll('input[data-image-id]')) {
      cb.checked = selected.has(cb.dataset.imageId);
      cb.closest('tr').classList.toggle('selected', cb.checked);
    }
  };
  zip.addEventListener('click', (ev) => { if (!selected.size) ev.preventDefault(); });
  clear.addEventListener('click', () => { selected.clear(); syncActions(); });
  animate.addEventListener('click', async () => {
    const ids = orderedSelection();
    animate.disabled = true;
    render(result, h('p', { class: 'muted' }, `Making an animation of ${ids.length} images…`));
    try {
      const a = (await gql(ANIMATION, { input: { imageIds: ids, fps: Number(fps.value) || 2 } })).createAnimation;
      render(result, h('h3', {}, `Animation of ${ids.length} images`),
        h('img', { class: 'gif', id: 'animation-gif', src: a.gifUrl, alt: `Animation of the ${ids.length} selected images in time order` }),
        h('p', { class: 'links' }, h('a', { href: a.gifUrl, download: '' }, 'Download GIF'),
          h('a', { href: a.pythonScriptUrl, download: '', id: 'animation-script' }, 'Python template (sunpy + matplotlib)')));
    } catch (e) {
      render(result, errorBox(e));
    }
    syncActions();
  });
  overlay.addEventListener('click', async () => {
    const ids = orderedSelection();
    const levelsPercent = levels.value.split(/[ ,;]+/).map(Number).filter((v) => v > 0 && v <= 100);
    try {
      const o = (await gql(OVERLAY, { input: { baseImageId: ids[0], contourImageIds: ids.slice(1), levelsPercent } })).createOverlay;
      render(result, h('p', {}, 'Overlay of ', String(ids.length - 1), ' contour image(s) on the first selected map: ',
        h('a', { href: o.pythonScriptUrl, download: '', id: 'overlay-script' }, 'Python template')));
    } catch (e) {
      render(result, errorBox(e));
    }
  });
  const orderedSelection = () => [...selected.values()]
    .sort((a, b) => new Date(a.timeStart) - new Date(b.timeStart)).map((i) => i.id);

  const draw = (conn) => {
    status.textContent = `${conn.totalCount} image${conn.totalCount === 1 ? '' : 's'}${conn.totalCount > PAGE ? `, page ${page + 1}` : ''}.`;
    const all = h('input', { type: 'checkbox', id: 'select-page', 'aria-label': 'Select every image on this page' });
    all.addEventListener('change', () => {
      for (const img of conn.nodes) { if (all.checked) selected.set(img.id, img); else selected.delete(img.id); }
      syncActions();
    });
    const rows = conn.nodes.map((img) => {
      const cb = h('input', { type: 'checkbox', dataset: { imageId: img.id }, 'aria-label': `Select ${img.algorithm} ${band(img.energyLowKev, img.energyHighKev)} ${utc(img.timeStart)}` });
      cb.addEventListener('change', () => { if (cb.checked) selected.set(img.id, img); else selected.delete(img.id); syncActions(); });
      return h('tr', { dataset: { imageId: img.id, timeStart: img.timeStart, timeEnd: img.timeEnd } },
        h('td', {}, cb),
        h('td', {}, h('code', { class: 'id', title: img.id }, img.id),
          img.supersededBy ? h('span', { class: 'muted superseded' }, ' superseded') : ''),
        h('td', {}, utc(img.createdAt)),
        h('td', {}, utc(img.timeStart)),
        h('td', { class: 'num' }, num(seconds(img.timeStart, img.timeEnd), 1)),
        h('td', {}, band(img.energyLowKev, img.energyHighKev)),
        h('td', {}, img.scienceFile ? h('a', { href: `/science-file/${img.scienceFile.requestUid}` }, String(img.scienceFile.requestUid)) : '–'),
        h('td', {}, ALGORITHM_LABEL[img.algorithm] || img.algorithm),
        qualityCell(img.quality),
        h('td', { class: 'links' },
          h('a', { href: img.pngUrl, target: '_blank' }, 'PNG'),
          h('a', { href: img.fitsUrl, download: '' }, 'FITS'),
          h('a', { href: img.pythonScriptUrl, download: '' }, 'Python'),
          h('a', { href: img.idlScriptUrl, download: '' }, 'IDL'),
          provenance(img)));
    });
    render(tableWrap, h('table', { id: 'images', class: 'compact' },
      h('caption', { class: 'muted', style: 'text-align:left' }, caption),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, all),
        h('th', { scope: 'col' }, 'Entry id'),
        h('th', { scope: 'col' }, 'Created (UTC)'),
        h('th', { scope: 'col' }, 'Observation start (UTC)'),
        h('th', { scope: 'col', class: 'num' }, 'Duration (s)'),
        h('th', { scope: 'col' }, 'Energy range'),
        h('th', { scope: 'col' }, 'Science data UID'),
        h('th', { scope: 'col' }, 'Algorithm'),
        h('th', { scope: 'col' }, 'Quality'),
        h('th', { scope: 'col' }, 'Files and provenance'))),
      h('tbody', {}, rows)));
    const prev = h('button', { type: 'button', class: 'secondary', disabled: page === 0 }, '← Previous 100');
    const next = h('button', { type: 'button', class: 'secondary', disabled: !conn.pageInfo.hasNextPage }, 'Next 100 →');
    prev.addEventListener('click', () => { page -= 1; fetchPage(); });
    next.addEventListener('click', () => { pages[page + 1] = conn.pageInfo.endCursor; page += 1; fetchPage(); });
    render(pager, prev, next);
    syncActions();
  };

  // Only the latest request draws (a slower earlier answer is dropped).
  let latest = 0;
  const fetchPage = async () => {
    const seq = ++latest;
    holder.dataset.state = 'loading';
    status.textContent = 'Loading images…';
    let conn = null;
    try {
      conn = await load(pages[page]);
      performance.mark('images:data');
    } catch (e) {
      if (seq === latest) render(status, errorBox(e));
    }
    if (seq !== latest) return;
    if (conn) draw(conn);
    performance.mark('images:table');
    holder.dataset.state = 'ready';
  };
  return {
    reload() { pages = [undefined]; page = 0; return fetchPage(); },
    selected,
  };
}
