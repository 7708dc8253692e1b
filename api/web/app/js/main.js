// Entry point: picks the page for the path, draws the navigation for the session.
// Every page has a real URL (served by the binary), so links open in new tabs and reload.
//   /                       flare list (filters and sort in the query string)
//   /flare/{flareId}        one flare: light curve, image table, selection actions
//   /science-file/{uid}     one science file: metadata, light curve, previews, reconstruction
//   /signin, /register      accounts
//   /jobs, /admin/jobs      my reconstruction jobs; every job (admins)
import { h, render, errorBox } from './dom.js';
import { session, setSession } from './gql.js';

const ROUTES = [
  [/^\/$/, () => import('./pages/flares.js'), () => []],
  [/^\/flare\/(\d+)$/, () => import('./pages/flare.js'), (m) => [m[1]]],
  [/^\/science-file\/(\d+)$/, () => import('./pages/sciencefile.js'), (m) => [m[1]]],
  [/^\/signin$/, () => import('./pages/account.js'), () => ['signin']],
  [/^\/register$/, () => import('./pages/account.js'), () => ['register']],
  [/^\/jobs$/, () => import('./pages/jobs.js'), () => ['mine']],
  [/^\/admin\/jobs$/, () => import('./pages/jobs.js'), () => ['all']],
];

function nav() {
  const el = document.getElementById('nav');
  const s = session();
  const items = [h('a', { href: '/' }, 'Flares')];
  if (s) {
    items.push(h('a', { href: '/jobs' }, 'My jobs'));
    if (s.user?.role === 'ADMIN') items.push(h('a', { href: '/admin/jobs' }, 'All jobs'));
    items.push(h('span', { class: 'who' }, `Signed in as ${s.user?.username ?? '?'}`));
    items.push(h('button', {
      type: 'button', class: 'secondary', id: 'signout',
      onclick: () => { setSession(null); location.href = '/'; },
    }, 'Sign out'));
  } else {
    items.push(h('a', { href: `/signin?next=${encodeURIComponent(location.pathname + location.search)}` }, 'Sign in'));
    items.push(h('a', { href: '/register' }, 'Register'));
  }
  render(el, items);
}

/** Set when a navigation away from this page begins. */
let leaving = false;
addEventListener('beforeunload', () => { leaving = true; });

async function start() {
  nav();
  const main = document.getElementById('main');
  for (const [re, load, args] of ROUTES) {
    const m = location.pathname.match(re);
    if (!m) continue;
    try {
      performance.mark('page:start');
      const mod = await load();
      await mod.default(main, ...args(m));
    } catch (e) {
      // Leaving the page (a link, Sign out) while it loads aborts its module import and
      // requests, and Firefox rejects them before the page goes. Such a failure is not the
      // page's: it is reported only if the page is still here a moment later.
      if (leaving) await new Promise((resolve) => { setTimeout(resolve, 1000); });
      console.error(e);
      main.append(errorBox(e));
    }
    // Time to interactive, from navigation start: the page has drawn what it fetched.
    performance.mark('page:ready');
    document.body.dataset.readyMs = String(Math.round(performance.now()));
    document.body.dataset.ready = 'true';
    return;
  }
  render(main, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '/' }, 'Back to the flare list')));
  document.body.dataset.ready = 'true';
}

start();
