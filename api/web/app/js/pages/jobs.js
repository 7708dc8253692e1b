// My reconstruction jobs (status, progress, cancel, results); for admins, every job with its
// owner. Running jobs are followed live over jobStatus.
import { h, render, utc, errorBox, title } from '../dom.js';
import { gql, session } from '../gql.js';
import { follow, gallery } from '../reconstruct.js';

const JOBS = `query Jobs($first: Int, $after: String, $all: Boolean!) {
  reconstructionJobs(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes {
      id status stage done total attempts createdAt startedAt finishedAt request
      error { code message }
      owner @include(if: $all) { username }
      images(first: 12) { nodes { id algorithm energyLowKev energyHighKev timeStart timeEnd pngUrl fitsUrl } }
    }
  }
}`;
const CANCEL = `mutation Cancel($id: ID!) { cancelReconstruction(id: $id) { id status } }`;

const ACTIVE = new Set(['QUEUED', 'RUNNING']);

export default async function jobsPage(main, which) {
  const all = which === 'all';
  title(all ? 'All jobs' : 'My jobs');
  const s = session();
  if (!s) {
    render(main, h('h1', {}, 'My jobs'), h('p', {}, h('a', { href: `/signin?next=${encodeURIComponent(location.pathname)}` }, 'Sign in'), ' to see your reconstruction jobs.'));
    return;
  }
  if (all && s.user?.role !== 'ADMIN') {
    render(main, h('h1', {}, 'All jobs'), h('p', { class: 'error' }, 'Only administrators see every job.'));
    return;
  }
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading jobs…');
  const list = h('div', { class: 'table-wrap' });
  const more = h('div', {});
  render(main, h('h1', {}, all ? 'All reconstruction jobs' : 'My reconstruction jobs'), status, list, more);
  const rows = [];
  const load = async (after) => {
    let conn;
    try {
      conn = (await gql(JOBS, { first: 50, after, all })).reconstructionJobs;
    } catch (e) {
      render(status, errorBox(e));
      return;
    }
    status.textContent = `${conn.totalCount} job${conn.totalCount === 1 ? '' : 's'}.`;
    for (const j of conn.nodes) {
      const live = h('div', {});
      const cancel = h('button', { type: 'button', class: 'secondary', disabled: !ACTIVE.has(j.status) }, 'Cancel');
      cancel.addEventListener('click', async () => {
        cancel.disabled = true;
        try { await gql(CANCEL, { id: j.id }); } catch (e) { live.append(errorBox(e)); cancel.disabled = false; }
      });
      const req = j.request || {};
      const what = [req.algorithms?.join?.(', '), req.energyRange ? `${req.energyRange.lowKev}–${req.energyRange.highKev} keV` : null, req.scienceFileUid ? `UID ${req.scienceFileUid}` : null].filter(Boolean).join(' · ');
      rows.push(h('tr', { dataset: { jobId: j.id } },
        h('td', {}, h('code', { class: 'id', title: j.id }, j.id)),
        all ? h('td', {}, j.owner?.username ?? '–') : null,
        h('td', {}, what || '–'),
        h('td', {}, utc(j.createdAt)),
        h('td', { class: `status-${j.status}` }, j.status, j.error ? h('div', { class: 'error' }, `${j.error.code}: ${j.error.message}`) : ''),
        h('td', {}, `${j.done}/${j.total}`),
        h('td', {}, cancel),
        h('td', {}, live)));
      if (ACTIVE.has(j.status)) follow(j.id, live).then((st) => { cancel.disabled = true; live.dataset.final = st; });
      else if (j.images.nodes.length) live.append(gallery(j.images.nodes));
    }
    render(list, h('table', { id: 'jobs' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Job'), all ? h('th', { scope: 'col' }, 'Owner') : null,
        h('th', { scope: 'col' }, 'Request'), h('th', { scope: 'col' }, 'Created (UTC)'), h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, 'Progress'), h('th', { scope: 'col' }, 'Cancel'), h('th', { scope: 'col' }, 'Results'))),
      h('tbody', {}, rows)));
    render(more, conn.pageInfo.hasNextPage
      ? h('button', { type: 'button', class: 'secondary', onclick: () => load(conn.pageInfo.endCursor) }, 'More jobs')
      : '');
  };
  await load(undefined);
}
