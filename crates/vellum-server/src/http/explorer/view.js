// Building the page's pieces. Everything a log serves goes into the page as
// text nodes, never as markup.

/** An element with attributes and children (strings become text). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Replaces the children of the element with id `id`. */
export function fill(id, ...children) {
  const e = document.getElementById(id);
  e.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return e;
}

/** A link to a state of this page. */
export function stateLink(state, ...children) {
  return el('a', { href: '#' + encodeState(state) }, ...children);
}

/** The URL fragment's parameters; "+" stays "+" (vkeys hold it). */
export function decodeState(hash) {
  const out = {};
  for (const part of hash.replace(/^#/, '').split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    if (k === 'witness') (out.witness ||= []).push(v);
    else out[k] = v;
  }
  return out;
}

export function encodeState(state) {
  const parts = [];
  for (const [k, v] of Object.entries(state)) {
    if (v === undefined || v === null || v === '') continue;
    for (const one of Array.isArray(v) ? v : [v]) {
      parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(one).replace(/%2F/g, '/')}`);
    }
  }
  return parts.join('&');
}

/** "42 s ago", "5 min ago", "3 h ago", "2 days ago". */
export function age(seconds) {
  if (seconds < -5) return `${Math.round(-seconds)} s in the future`;
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** An entry read as an audit event (docs/EVENTS.md), or null. */
export function asEvent(bytes) {
  try {
    const v = JSON.parse(utf8.decode(bytes));
    if (v && typeof v === 'object' && v.v !== undefined && v.actor && v.resource && v.action) return v;
  } catch {
    // Not JSON: a raw entry.
  }
  return null;
}

/** The entry as text, if it is printable UTF-8. */
export function asText(bytes) {
  try {
    const t = utf8.decode(bytes);
    // eslint-disable-next-line no-control-regex
    return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(t) ? null : t;
  } catch {
    return null;
  }
}

/** A hex dump: offset, 16 bytes in hex, the printable ones. */
export function hexDump(bytes) {
  const lines = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.slice(at, at + 16);
    const hx = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${at.toString(16).padStart(8, '0')}  ${hx.padEnd(47)}  ${text}`);
  }
  return lines.join('\n');
}

/** One line about an entry, for lists. */
export function summary(bytes) {
  const e = asEvent(bytes);
  if (e) {
    return el(
      'span',
      { class: 'summary' },
      el('span', { class: 'pill ' + (e.outcome?.result || '') }, e.outcome?.result || '?'),
      ' ',
      el('b', {}, e.action),
      ' by ',
      stateLink({ actor: e.actor.id }, e.actor.id),
      ' on ',
      stateLink({ resource: `${e.resource.kind}/${e.resource.id}` }, `${e.resource.kind}/${e.resource.id}`),
      el('span', { class: 'muted' }, ' at ', e.event_time),
    );
  }
  const t = asText(bytes);
  if (t !== null) return el('span', { class: 'mono' }, t.length > 120 ? t.slice(0, 120) + '…' : t);
  return el('span', { class: 'mono muted' }, `${bytes.length} bytes: `, hexDump(bytes.slice(0, 16)).slice(10, 57));
}
