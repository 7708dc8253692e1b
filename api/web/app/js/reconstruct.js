// The reconstruction form of the science-file page (signed-in users only): time range
// (dragged on the light curve or typed), energy range from the file's bands, background,
// algorithms, image and pixel size, map centre. Submitting calls submitReconstruction, then
// follows the job over the jobStatus subscription and shows its images when it succeeds.
// API validation errors are shown next to the field named in `extensions.field`.
import { h, render, num, utc, errorBox, ALGORITHM_LABEL } from './dom.js';
import { gql, subscribe, GqlError } from './gql.js';

/** STIX science energy channel edges, keV (the file's energy groups lie on these). */
export const STIX_EDGES_KEV = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 25, 28, 32, 36, 40, 45, 50, 56, 63, 70, 76, 84, 100, 120, 150];

const SUBMIT = `mutation Submit($input: SubmitReconstructionInput!) {
  submitReconstruction(input: $input) { id status done total timeBinsUsed { start end } energyEdgesUsedKev }
}`;
const STATUS = `subscription Status($jobId: ID!) {
  jobStatus(jobId: $jobId) { jobId status stage done total message }
}`;
const RESULT = `query JobImages($id: ID!) {
  reconstructionJob(id: $id) {
    id status error { code message }
    images(first: 50) { nodes { id algorithm energyLowKev energyHighKev timeStart timeEnd pngUrl fitsUrl } }
  }
}`;
const BACKGROUNDS = `query Backgrounds { scienceFiles(first: 100, filter: { productKind: BACKGROUND }) { nodes { requestUid fileName obsStart } } }`;

const ALGORITHMS = ['BP', 'BP_UNIFORM', 'CLEAN', 'MEM', 'EM', 'FWDFIT'];

function isoInput(iso) { return iso ? new Date(iso).toISOString().slice(0, 19) : ''; }

/** A gallery of a job's images. */
export function gallery(images) {
  return h('div', { class: 'gallery', id: 'job-images' }, images.map((i) => h('figure', { dataset: { imageId: i.id } },
    h('a', { href: i.pngUrl, target: '_blank' }, h('img', { src: i.pngUrl, alt: `${ALGORITHM_LABEL[i.algorithm] || i.algorithm}, ${num(i.energyLowKev, 1)}–${num(i.energyHighKev, 1)} keV, ${utc(i.timeStart)}` })),
    h('figcaption', {}, `${ALGORITHM_LABEL[i.algorithm] || i.algorithm} · ${num(i.energyLowKev, 1)}–${num(i.energyHighKev, 1)} keV · `, h('a', { href: i.fitsUrl, download: '' }, 'FITS')))));
}

/**
 * Follows job `id` over /ws into `out` (progress bar and status), then shows its images.
 * Resolves with the final status.
 */
export function follow(id, out) {
  const bar = h('progress', { id: 'job-progress', max: 1, value: 0, 'aria-label': 'Job progress' });
  const text = h('span', { id: 'job-status', role: 'status' }, 'QUEUED');
  const images = h('div', {});
  render(out, h('p', {}, 'Job ', h('code', {}, id), ': ', text, ' ', bar), images);
  return new Promise((resolve) => {
    let last = null;
    const seen = [];
    const done = async () => {
      if (last === 'SUCCEEDED' || last === 'FAILED' || last === 'CANCELLED') {
        try {
          const job = (await gql(RESULT, { id })).reconstructionJob;
          if (job.error) images.append(h('p', { class: 'error' }, `${job.error.code}: ${job.error.message}`));
          images.append(gallery(job.images.nodes));
        } catch (e) { images.append(errorBox(e)); }
      }
      out.dataset.final = last || 'UNKNOWN';
      resolve(last);
    };
    subscribe(STATUS, { jobId: id }, {
      next: (d) => {
        const ev = d.jobStatus;
        last = ev.status;
        if (seen[seen.length - 1] !== ev.status) seen.push(ev.status);
        out.dataset.seen = seen.join(' ');
        text.textContent = `${ev.status}${ev.stage ? ` · ${ev.stage}` : ''}${ev.message ? ` · ${ev.message}` : ''}`;
        text.className = `status-${ev.status}`;
        bar.max = Math.max(1, ev.total);
        bar.value = ev.done;
      },
      error: (e) => { images.append(errorBox(e)); done(); },
      complete: done,
    });
  });
}

/**
 * Draws the form for `file` (a ScienceFile) into `holder`; `onSucceeded()` runs when a job
 * submitted from it succeeds. Returns {setTime(fromIso, toIso)} so that a drag on the light
 * curve fills the time range.
 */
export function reconstructionForm(holder, file, { onSucceeded } = {}) {
  const lo = file.energyLowKev ?? 4;
  const hi = file.energyHighKev ?? 150;
  const edges = STIX_EDGES_KEV.filter((e) => e >= lo && e <= hi);
  const errSpan = (name) => h('span', { class: 'field-error', id: `err-${name}`, dataset: { errorFor: name } });
  const input = (name, attrs) => h('input', { name, id: `f-${name}`, 'aria-describedby': `err-${name}`, ...attrs });
  const start = input('timeStart', { type: 'datetime-local', step: 1, required: true, value: isoInput(file.obsStart) });
  const end = input('timeEnd', { type: 'datetime-local', step: 1, required: true, value: isoInput(file.obsEnd) });
  const eLow = h('select', { name: 'lowKev', id: 'f-lowKev', 'aria-describedby': 'err-energyRange' }, edges.slice(0, -1).map((e) => h('option', { value: e, selected: e === 4 }, String(e))));
  const eHigh = h('select', { name: 'highKev', id: 'f-highKev', 'aria-describedby': 'err-energyRange' }, edges.slice(1).map((e) => h('option', { value: e, selected: e === 10 }, String(e))));
  const bgMode = (value, label, checked) => h('label', { class: 'inline' }, h('input', { type: 'radio', name: 'bgMode', value, checked }), label);
  const bgFile = h('select', { name: 'bgFile', id: 'f-bgFile', disabled: true, 'aria-label': 'Background file' }, h('option', { value: '' }, 'loading…'));
  const algs = ALGORITHMS.map((a) => h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'algorithms', value: a, checked: a === 'CLEAN' }), ALGORITHM_LABEL[a]));
  const size = input('imageSize', { type: 'number', min: 16, max: 1024, step: 1, value: 129 });
  const pixel = input('pixelArcsec', { type: 'number', min: 0.1, step: 'any', value: 2 });
  const cMode = (value, label, checked) => h('label', { class: 'inline' }, h('input', { type: 'radio', name: 'centerMode', value, checked }), label);
  const cx = h('input', { type: 'number', step: 'any', name: 'centerX', id: 'f-centerX', disabled: true, 'aria-describedby': 'err-mapCenter' });
  const cy = h('input', { type: 'number', step: 'any', name: 'centerY', id: 'f-centerY', disabled: true, 'aria-describedby': 'err-mapCenter' });
  const formError = h('p', { class: 'error', role: 'alert', id: 'form-error' });
  const submit = h('button', { type: 'submit', id: 'submit-reconstruction' }, 'Submit reconstruction');
  const out = h('div', { id: 'job', 'aria-live': 'polite' });
  const form = h('form', { class: 'stack', id: 'reconstruct', novalidate: true, 'aria-label': 'Image reconstruction' },
    h('fieldset', {}, h('legend', {}, 'Time range (UTC; drag on the light curve or type)'),
      h('label', { for: 'f-timeStart' }, 'Start', start), h('label', { for: 'f-timeEnd' }, 'End', end), errSpan('timeRange')),
    h('fieldset', {}, h('legend', {}, 'Energy range (keV, the file\'s bands)'),
      h('label', { for: 'f-lowKev' }, 'From', eLow), h('label', { for: 'f-highKev' }, 'To', eHigh), errSpan('energyRange')),
    h('fieldset', {}, h('legend', {}, 'Background'),
      bgMode('AUTO', 'automatic (nearest background file)', true), bgMode('NONE', 'none', false), bgMode('FILE', 'this file:', false), bgFile, errSpan('background')),
    h('fieldset', {}, h('legend', {}, 'Algorithms'), algs, errSpan('algorithms')),
    h('fieldset', {}, h('legend', {}, 'Map'),
      h('label', { for: 'f-imageSize' }, 'Image size (pixels)', size), errSpan('imageSize'),
      h('label', { for: 'f-pixelArcsec' }, 'Pixel size (arcsec)', pixel), errSpan('pixelArcsec')),
    h('fieldset', {}, h('legend', {}, 'Map centre'),
      cMode('AUTO', 'automatic (flare location)', true), cMode('TYPED', 'typed:', false),
      h('label', { for: 'f-centerX' }, 'x (arcsec)', cx), h('label', { for: 'f-centerY' }, 'y (arcsec)', cy), errSpan('mapCenter')),
    errSpan('scienceFileUid'), errSpan('parameters'),
    formError, h('div', {}, submit));
  render(holder, form, out);

  gql(BACKGROUNDS).then((d) => {
    render(bgFile, d.scienceFiles.nodes.map((f) => h('option', { value: f.requestUid }, `${f.fileName}`)));
  }).catch((e) => render(bgFile, h('option', { value: '' }, `(${e.message})`)));
  form.addEventListener('change', () => {
    const fd = new FormData(form);
    bgFile.disabled = fd.get('bgMode') !== 'FILE';
    cx.disabled = cy.disabled = fd.get('centerMode') !== 'TYPED';
  });

  const clearErrors = () => {
    for (const s of form.querySelectorAll('[data-error-for]')) s.textContent = '';
    for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
    formError.textContent = '';
  };
  const showError = (field, message) => {
    const key = (field || '').replace(/^input\./, '').split(/[.[]/)[0];
    const span = key && form.querySelector(`[data-error-for="${key}"]`);
    if (span) {
      span.textContent = message;
      const fs = span.closest('fieldset');
      for (const c of fs ? fs.querySelectorAll('input, select') : []) if (!c.disabled) c.setAttribute('aria-invalid', 'true');
    } else {
      formError.textContent = field ? `${field}: ${message}` : message;
    }
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    const fd = new FormData(form);
    const bg = { mode: fd.get('bgMode') };
    if (bg.mode === 'FILE') bg.fileUid = fd.get('bgFile');
    const inputValue = {
      scienceFileUid: String(file.requestUid),
      timeRange: { start: start.value ? new Date(`${start.value}Z`).toISOString() : null, end: end.value ? new Date(`${end.value}Z`).toISOString() : null },
      energyRange: { lowKev: Number(fd.get('lowKev')), highKev: Number(fd.get('highKev')) },
      algorithms: fd.getAll('algorithms'),
      background: bg,
      imageSize: Number(fd.get('imageSize')),
      pixelArcsec: Number(fd.get('pixelArcsec')),
    };
    if (fd.get('centerMode') === 'TYPED') inputValue.mapCenter = { xArcsec: Number(fd.get('centerX')), yArcsec: Number(fd.get('centerY')) };
    submit.disabled = true;
    try {
      const job = (await gql(SUBMIT, { input: inputValue })).submitReconstruction;
      submit.disabled = false;
      const bins = job.timeBinsUsed;
      const used = h('p', { class: 'muted', id: 'job-used' }, bins.length
        ? `Imaging ${utc(bins[0].start)} – ${utc(bins[bins.length - 1].end)} (${bins.length} time bin${bins.length === 1 ? '' : 's'}), energy edges ${job.energyEdgesUsedKev.map((e) => num(e, 1)).join(', ')} keV.`
        : '');
      const finished = follow(job.id, out);
      out.prepend(used);
      if ((await finished) === 'SUCCEEDED') onSucceeded?.();
    } catch (e) {
      submit.disabled = false;
      if (e instanceof GqlError) for (const err of e.errors) showError(err.extensions?.field, err.message);
      else showError(null, e.message);
    }
  });
  return {
    setTime(a, b) { start.value = isoInput(a); end.value = isoInput(b); },
  };
}
