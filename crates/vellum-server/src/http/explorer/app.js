// The explorer page: its state lives in the URL fragment (see decodeState),
// every action sets the fragment, and a change of fragment redraws.

import { Failure, Tiles, b64encode, hex, leafHash, parseCheckpoint, verifyEntry } from './verify.js';
import { age, asEvent, asText, decodeState, el, encodeState, fill, hexDump, stateLink, summary } from './view.js';

// "/explorer/" serves the default log, "/logs/<name>/explorer/" a named one.
const BASE = location.pathname.replace(/explorer\/[^/]*$/, '');
const PAGE = 25;
const $ = (id) => document.getElementById(id);

let checkpoint = null;
let tiles = null;
let pending = 0;

// ---- reading the log ----

async function request(path) {
  const headers = {};
  const token = sessionStorage.getItem('vellum.token');
  if (token) headers.Authorization = `Bearer ${token}`;
  let r;
  try {
    r = await fetch(BASE + path, { headers, cache: 'no-cache' });
  } catch (e) {
    throw new Failure(`cannot reach ${BASE}${path}: ${e.message}`);
  }
  if (!r.ok) {
    let body = (await r.text()).trim();
    try {
      body = JSON.parse(body).error || body;
    } catch {
      // Plain text.
    }
    const hint = r.status === 401 || r.status === 403 ? ' (enter a token with the audit role at the top of the page)' : '';
    throw new Failure(`${path}: HTTP ${r.status}: ${body}${hint}`);
  }
  return r;
}

const getText = async (path) => (await request(path)).text();
const getBytes = async (path) => new Uint8Array(await (await request(path)).arrayBuffer());

/** Counts work under way; #status says "done" when none is left. */
function track(promise) {
  pending++;
  status();
  return promise.finally(() => {
    pending--;
    status();
  });
}

function status() {
  const s = $('status');
  s.dataset.state = pending > 0 ? 'loading' : 'done';
  s.textContent = pending > 0 ? 'Loading…' : '';
}

function problem(e) {
  return el('p', { class: 'error' }, e instanceof Failure ? e.message : `error: ${e.message || e}`);
}

// ---- the checkpoint ----

async function loadCheckpoint() {
  try {
    checkpoint = parseCheckpoint(await getText('checkpoint'));
    tiles = new Tiles(checkpoint.size, getBytes);
    renderCheckpoint(checkpoint);
  } catch (e) {
    checkpoint = null;
    fill('cp-body', problem(e));
  }
}

function renderCheckpoint(cp) {
  const now = Date.now() / 1000;
  document.title = `${cp.origin} · Vellum explorer`;
  fill('log-name', cp.origin);
  const rows = cp.signatures.map((s) => {
    const role = s.name === cp.origin ? 'log' : s.kind === 'cosignature/v1' ? 'witness' : 'other';
    const when =
      s.timestamp !== undefined
        ? el('span', { title: new Date(s.timestamp * 1000).toISOString() }, age(now - s.timestamp))
        : el('span', { class: 'muted' }, role === 'log' ? 'no timestamp (Ed25519 note signature)' : '—');
    return el(
      'tr',
      { class: `sig ${role}`, 'data-name': s.name, 'data-kind': s.kind },
      el('td', {}, el('span', { class: `pill ${role}` }, role)),
      el('td', { class: 'mono' }, s.name),
      el('td', { class: 'mono' }, s.keyId),
      el('td', {}, s.kind),
      el('td', { class: 'age' }, when),
    );
  });
  const witnesses = cp.signatures.filter((s) => s.kind === 'cosignature/v1').length;
  fill(
    'cp-body',
    el(
      'dl',
      { class: 'facts' },
      el('dt', {}, 'Origin'),
      el('dd', { id: 'cp-origin', class: 'mono' }, cp.origin),
      el('dt', {}, 'Tree size'),
      el('dd', { id: 'cp-size', class: 'big' }, String(cp.size)),
      el('dt', {}, 'Root hash'),
      el('dd', { id: 'cp-root', class: 'mono hash', title: b64encode(cp.root) }, hex(cp.root)),
      cp.extensions.length ? [el('dt', {}, 'Extensions'), el('dd', { class: 'mono' }, cp.extensions.join('\n'))] : [],
    ),
    el('h3', {}, `Signatures (${cp.signatures.length}; ${witnesses} witness cosignature${witnesses === 1 ? '' : 's'})`),
    el(
      'table',
      { id: 'cp-signatures', class: 'list' },
      el('thead', {}, el('tr', {}, ['', 'Signer', 'Key id', 'Kind', 'Signed'].map((h) => el('th', {}, h)))),
      el('tbody', {}, rows),
    ),
    el(
      'p',
      { class: 'muted small' },
      'Listed as served. "Verify in this browser" checks the log\'s signature (and witness cosignatures for the keys you give) itself.',
    ),
    el('details', {}, el('summary', {}, 'The checkpoint as served'), el('pre', { class: 'note' }, cp.note)),
  );
}

// ---- entries ----

async function renderEntries(from) {
  if (!checkpoint) return;
  const size = checkpoint.size;
  if (size === 0) {
    fill('entries-body', el('p', { class: 'muted' }, 'The log is empty.'));
    return;
  }
  const top = Math.min(Number.isSafeInteger(from) && from >= 0 ? from : size - 1, size - 1);
  const bottom = Math.max(0, top - PAGE + 1);
  const rows = [];
  try {
    for (let i = top; i >= bottom; i--) {
      const bytes = await tiles.entry(i);
      rows.push(el('tr', { 'data-index': i }, el('td', { class: 'num' }, stateLink({ entry: i }, String(i))), el('td', {}, summary(bytes))));
    }
  } catch (e) {
    fill('entries-body', problem(e));
    return;
  }
  const pager = el(
    'div',
    { class: 'pager' },
    top < size - 1 ? stateLink({ from: Math.min(size - 1, top + PAGE) }, '← newer') : el('span', { class: 'muted' }, 'newest'),
    el('span', { class: 'muted' }, `entries ${bottom}–${top} of ${size}`),
    bottom > 0 ? stateLink({ from: bottom - 1 }, 'older →') : el('span', { class: 'muted' }, 'oldest'),
  );
  fill('entries-body', el('table', { class: 'list' }, el('tbody', {}, rows)), pager);
}

async function renderEntry(index) {
  const card = $('entry');
  card.hidden = false;
  fill('entry-title', `Entry ${index}`);
  if (!checkpoint) return;
  if (!Number.isSafeInteger(index) || index < 0 || index >= checkpoint.size) {
    fill('entry-body', el('p', { class: 'error' }, `There is no entry ${index} in the latest checkpoint (size ${checkpoint.size}).`));
    return;
  }
  $('verify-index').value = String(index);
  let bytes;
  try {
    bytes = await tiles.entry(index);
  } catch (e) {
    fill('entry-body', problem(e));
    return;
  }
  let leaf;
  try {
    leaf = hex(await leafHash(bytes));
  } catch (e) {
    leaf = e.message;
  }
  const event = asEvent(bytes);
  const facts = [el('dt', {}, 'Size'), el('dd', {}, `${bytes.length} bytes`), el('dt', {}, 'Leaf hash'), el('dd', { class: 'mono hash' }, leaf)];
  const body = [];
  if (event) {
    const res = `${event.resource.kind}/${event.resource.id}`;
    facts.push(
      el('dt', {}, 'Resource'),
      el('dd', {}, stateLink({ resource: res }, res), ' ', el('span', { class: 'muted' }, '(its history)')),
      el('dt', {}, 'Actor'),
      el('dd', {}, stateLink({ actor: event.actor.id }, event.actor.id), ` (${event.actor.kind})`),
      el('dt', {}, 'Action'),
      el('dd', {}, stateLink({ action: event.action }, event.action)),
      el('dt', {}, 'Submitter'),
      el('dd', {}, event.submitter ?? '—'),
      el('dt', {}, 'Previous version'),
      el('dd', {}, event.prev ? stateLink({ entry: event.prev.index }, `entry ${event.prev.index}`) : 'none: the first event on this resource'),
    );
    body.push(el('pre', { id: 'entry-json', class: 'json' }, JSON.stringify(event, null, 2)));
  } else {
    const text = asText(bytes);
    if (text !== null) body.push(el('h3', {}, 'Text'), el('pre', { id: 'entry-text' }, text));
    body.push(el('h3', {}, 'Bytes'), el('pre', { class: 'hex' }, hexDump(bytes)));
  }
  const vkey = $('vkey').value.trim();
  fill(
    'entry-body',
    el('dl', { class: 'facts' }, facts),
    body,
    el('p', {}, el('a', { class: 'button', href: '#' + encodeState({ entry: index, verify: 1, vkey }) }, 'Verify this entry in the browser')),
  );
}

// ---- search ----

async function renderSearch(state) {
  const [by, value] = ['resource', 'actor', 'action'].map((k) => [k, state[k]]).find(([, v]) => v) || [];
  if (!by) {
    fill('search-results');
    return;
  }
  $('search-by').value = by;
  $('search-value').value = value;
  const params = new URLSearchParams({ [by]: value, limit: '50' });
  if (state.cursor) params.set('cursor', state.cursor);
  let answer;
  try {
    answer = JSON.parse(await getText(`events?${params}`));
  } catch (e) {
    fill('search-results', problem(e));
    return;
  }
  const size = parseCheckpoint(answer.checkpoint).size;
  const rows = answer.events.map(({ index, event }) =>
    el(
      'tr',
      { class: 'hit', 'data-index': index },
      el('td', { class: 'num' }, stateLink({ entry: index }, String(index))),
      el('td', { class: 'mono small' }, event.event_time),
      el('td', {}, el('b', {}, event.action)),
      el('td', {}, stateLink({ actor: event.actor.id }, event.actor.id)),
      el('td', {}, stateLink({ resource: `${event.resource.kind}/${event.resource.id}` }, `${event.resource.kind}/${event.resource.id}`)),
      el('td', {}, el('span', { class: `pill ${event.outcome?.result}` }, event.outcome?.result)),
    ),
  );
  fill(
    'search-results',
    el('p', { id: 'search-count', class: 'muted' }, `${answer.events.length} event${answer.events.length === 1 ? '' : 's'} for ${by} ${value}, newest first, in the tree of size ${size}.`),
    rows.length
      ? el(
          'table',
          { class: 'list' },
          el('thead', {}, el('tr', {}, ['Index', 'Event time', 'Action', 'Actor', 'Resource', 'Outcome'].map((h) => el('th', {}, h)))),
          el('tbody', {}, rows),
        )
      : [],
    answer.next_cursor ? el('p', {}, stateLink({ [by]: value, cursor: answer.next_cursor }, 'older events →')) : [],
  );
}

// ---- verification ----

async function runVerify(index) {
  const steps = fill('steps');
  const verdict = $('verdict');
  const vkey = $('vkey').value.trim();
  if (!vkey) {
    verdict.dataset.result = 'fail';
    verdict.textContent = "Enter the log's verifier key (its vkey) first: it is what the checkpoint is checked against.";
    return;
  }
  localStorage.setItem(`vellum.vkey:${BASE}`, vkey);
  verdict.dataset.result = 'running';
  verdict.textContent = `Verifying entry ${index}…`;
  const witnessVkeys = $('wkeys').value.split('\n').map((l) => l.trim()).filter(Boolean);
  const result = await verifyEntry({
    index,
    vkey,
    witnessVkeys,
    fetchText: getText,
    fetchBytes: getBytes,
    report: (s) => steps.append(el('li', { class: s.ok ? 'ok' : 'fail' }, el('b', {}, s.what), s.detail ? [': ', s.detail] : [])),
  });
  verdict.dataset.result = result.ok ? 'ok' : 'fail';
  verdict.textContent = (result.ok ? '✔ Verified. ' : '✘ ') + result.summary;
}

// ---- the page's state ----

async function apply() {
  const state = decodeState(location.hash);
  if (state.vkey !== undefined) $('vkey').value = state.vkey;
  if (state.witness) $('wkeys').value = state.witness.join('\n');
  const entry = state.entry !== undefined && state.entry !== '' ? Number(state.entry) : null;
  if (entry === null) $('entry').hidden = true;
  const work = [renderEntries(state.from !== undefined ? Number(state.from) : undefined), renderSearch(state)];
  if (entry !== null) work.push(renderEntry(entry));
  if (state.verify && entry !== null) work.push(runVerify(entry));
  await Promise.all(work);
}

function wire() {
  $('token').value = sessionStorage.getItem('vellum.token') || '';
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem('vellum.token', $('token').value.trim());
    track(loadCheckpoint().then(apply));
  });
  $('vkey').value = localStorage.getItem(`vellum.vkey:${BASE}`) || '';
  $('verify-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const witness = $('wkeys').value.split('\n').map((l) => l.trim()).filter(Boolean);
    const state = { entry: $('verify-index').value, verify: 1, vkey: $('vkey').value.trim(), witness };
    const hash = '#' + encodeState(state);
    if (location.hash === hash) track(apply());
    else location.hash = hash;
  });
  $('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = encodeState({ [$('search-by').value]: $('search-value').value.trim() });
  });
  $('goto-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = encodeState({ entry: $('goto-index').value });
  });
  $('refresh').addEventListener('click', () => track(loadCheckpoint().then(apply)));
  window.addEventListener('hashchange', () => track(apply()));
}

wire();
track(loadCheckpoint().then(apply));
