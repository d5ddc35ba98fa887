// Formats and checks, in the browser, with WebCrypto only: C2SP signed
// notes and checkpoints, vkeys, tlog-tiles paths and entry bundles, and an
// RFC 6962 inclusion proof computed from the hash tiles. Nothing here
// trusts the server: every byte it is given is checked or hashed.

const enc = new TextEncoder();

export class Failure extends Error {}

// ---- bytes ----

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function b64decode(text, what) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new Failure(`${what}: not base64`);
  }
  const raw = atob(text);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

export function b64encode(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function subtle() {
  if (!globalThis.crypto || !crypto.subtle) {
    throw new Failure(
      'this page is not a secure context (HTTPS or a loopback address), so the ' +
        'browser offers no WebCrypto: open the explorer over HTTPS to verify',
    );
  }
  return crypto.subtle;
}

export async function sha256(...parts) {
  return new Uint8Array(await subtle().digest('SHA-256', concat(...parts)));
}

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);

/** RFC 6962 leaf hash: SHA-256(0x00 || entry). */
export const leafHash = (entry) => sha256(LEAF, entry);
/** RFC 6962 interior node: SHA-256(0x01 || left || right). */
export const nodeHash = (l, r) => sha256(NODE, l, r);

// ---- signed notes and checkpoints (C2SP signed-note, tlog-checkpoint) ----

/**
 * Splits a signed note into its text (what is signed, ending in a newline)
 * and its signature lines ("— name base64(key id || signature)"), and reads
 * the checkpoint in the text: origin, size, root hash.
 */
export function parseCheckpoint(note) {
  const cut = note.indexOf('\n\n');
  if (cut < 0) throw new Failure('the checkpoint is not a signed note: no blank line before its signatures');
  const text = note.slice(0, cut + 1);
  const lines = text.split('\n').slice(0, -1);
  if (lines.length < 3) throw new Failure('the checkpoint has fewer than three lines (origin, size, root)');
  const [origin, sizeText, rootText] = lines;
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText) || Number(sizeText) > Number.MAX_SAFE_INTEGER) {
    throw new Failure(`the checkpoint's size ${JSON.stringify(sizeText)} is not a tree size`);
  }
  const root = b64decode(rootText, 'the checkpoint root');
  if (root.length !== 32) throw new Failure(`the checkpoint root is ${root.length} bytes, not 32`);
  const signatures = [];
  const sigLines = note.slice(cut + 2).split('\n');
  if (sigLines.pop() !== '') throw new Failure('the signed note does not end with a newline');
  for (const line of sigLines) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new Failure(`not a signature line: ${JSON.stringify(line)}`);
    const raw = b64decode(m[2], `the signature of ${m[1]}`);
    if (raw.length < 5) throw new Failure(`the signature of ${m[1]} is too short`);
    const sig = { name: m[1], keyId: hex(raw.slice(0, 4)), bytes: raw.slice(4), kind: 'unknown' };
    if (raw.length === 4 + 64) sig.kind = 'signature';
    if (raw.length === 4 + 72) {
      // cosignature/v1: an 8-byte big-endian timestamp, then Ed25519.
      sig.kind = 'cosignature/v1';
      sig.timestamp = Number(new DataView(raw.buffer, 4, 8).getBigUint64(0));
    }
    signatures.push(sig);
  }
  if (signatures.length === 0) throw new Failure('the checkpoint has no signature');
  return { note, text, origin, size: Number(sizeText), root, extensions: lines.slice(3), signatures };
}

/**
 * A vkey: "name+hex(key id)+base64(type || public key)". The key id must be
 * the first 4 bytes of SHA-256(name || 0x0A || type || public key).
 */
export async function parseVkey(vkey) {
  const text = vkey.trim();
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  if (first <= 0 || second < 0) throw new Failure('the verifier key is not name+keyid+key (a vellum vkey)');
  const name = text.slice(0, first);
  const id = text.slice(first + 1, second);
  if (!/^[0-9a-f]{8}$/.test(id)) throw new Failure(`the verifier key's id ${JSON.stringify(id)} is not 8 hex digits`);
  const key = b64decode(text.slice(second + 1), 'the verifier key');
  if (key.length !== 33 || (key[0] !== 0x01 && key[0] !== 0x04)) {
    throw new Failure('the verifier key is not an Ed25519 key (type 0x01) or cosignature/v1 key (type 0x04)');
  }
  const computed = hex((await sha256(enc.encode(name + '\n'), key)).slice(0, 4));
  if (computed !== id) {
    throw new Failure(`the verifier key's id ${id} is not the hash of its name and key (${computed})`);
  }
  return { name, keyId: id, type: key[0], publicKey: key.slice(1) };
}

async function ed25519(publicKey, signature, message) {
  let key;
  try {
    key = await subtle().importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
  } catch (e) {
    if (e instanceof Failure) throw e;
    throw new Failure(`this browser's WebCrypto cannot use Ed25519 keys (${e.message}); try a current browser`);
  }
  return subtle().verify({ name: 'Ed25519' }, key, signature, message);
}

/** Checks `key`'s signature on the checkpoint; returns the line checked. */
export async function checkSignature(cp, key) {
  if (key.type !== 0x01) throw new Failure(`${key.name}'s key is a witness key, not a log key`);
  const sig = cp.signatures.find((s) => s.name === key.name && s.keyId === key.keyId);
  if (!sig) {
    const names = cp.signatures.map((s) => `${s.name} (${s.keyId})`).join(', ');
    throw new Failure(`the checkpoint has no signature by ${key.name} with key id ${key.keyId}; it has: ${names}`);
  }
  if (sig.bytes.length !== 64) throw new Failure(`${key.name}'s signature is ${sig.bytes.length} bytes, not 64`);
  if (!(await ed25519(key.publicKey, sig.bytes, enc.encode(cp.text)))) {
    throw new Failure(`the Ed25519 signature by ${key.name} (${key.keyId}) does not verify over the checkpoint text`);
  }
  return sig;
}

/** Checks a witness's cosignature/v1 (key type 0x04) on the checkpoint. */
export async function checkCosignature(cp, key) {
  if (key.type !== 0x04) throw new Failure(`${key.name}'s key is not a cosignature/v1 key`);
  const sig = cp.signatures.find((s) => s.name === key.name && s.keyId === key.keyId);
  if (!sig) throw new Failure(`no cosignature by ${key.name} (${key.keyId})`);
  if (sig.kind !== 'cosignature/v1') throw new Failure(`${key.name}'s signature is not a cosignature/v1`);
  const message = enc.encode(`cosignature/v1\ntime ${sig.timestamp}\n${cp.text}`);
  if (!(await ed25519(key.publicKey, sig.bytes.slice(8), message))) {
    throw new Failure(`the cosignature by ${key.name} (${key.keyId}) does not verify`);
  }
  return sig;
}

// ---- tlog-tiles ----

/** The path of tile index `n`: groups of three digits, all but the last with an "x". */
export function tileIndexPath(n) {
  let s = String(n);
  while (s.length % 3) s = '0' + s;
  const groups = s.match(/.../g);
  return groups.map((g, i) => (i < groups.length - 1 ? 'x' + g : g)).join('/');
}

/** `tile/<level>/<n>[.p/<width>]`, level a number or "entries". */
export function tilePath(level, n, width) {
  return `tile/${level}/${tileIndexPath(n)}${width < 256 ? `.p/${width}` : ''}`;
}

/** How many of tile `n`'s 256 places are filled at `level` (8 tree levels each) in a tree of `size`. */
export function tileWidth(level, n, size) {
  const count = Math.floor(size / 256 ** (level === 'entries' ? 0 : level));
  return Math.min(256, count - 256 * n);
}

/** The entries of an entry bundle: each a 16-bit big-endian length and the bytes. */
export function parseBundle(bytes, width, path) {
  const out = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 2 > bytes.length) throw new Failure(`${path}: cut in the length of entry ${out.length}`);
    const len = (bytes[at] << 8) | bytes[at + 1];
    if (at + 2 + len > bytes.length) throw new Failure(`${path}: entry ${out.length} is cut short`);
    out.push(bytes.slice(at + 2, at + 2 + len));
    at += 2 + len;
  }
  if (out.length !== width) throw new Failure(`${path} holds ${out.length} entries, not ${width}`);
  return out;
}

/**
 * Reads tiles through `fetchBytes(path)` for a tree of `size`, keeping
 * what it read (the paths, for the verdict).
 */
export class Tiles {
  constructor(size, fetchBytes) {
    this.size = size;
    this.fetchBytes = fetchBytes;
    this.cache = new Map();
    this.read = [];
  }

  async tile(level, n) {
    const width = tileWidth(level, n, this.size);
    if (width <= 0) throw new Failure(`tile ${level}/${n} is not in a tree of size ${this.size}`);
    const path = tilePath(level, n, width);
    if (!this.cache.has(path)) {
      this.cache.set(
        path,
        this.fetchBytes(path).then((bytes) => {
          this.read.push(path);
          if (level !== 'entries' && bytes.length !== 32 * width) {
            throw new Failure(`${path} is ${bytes.length} bytes, not ${32 * width} (${width} hashes)`);
          }
          return { path, bytes, width };
        }),
      );
    }
    return this.cache.get(path);
  }

  /** Entry `i`'s bytes, from its bundle. */
  async entry(i) {
    const n = Math.floor(i / 256);
    const t = await this.tile('entries', n);
    return parseBundle(t.bytes, t.width, t.path)[i % 256];
  }

  /** The hash of the complete subtree at tree `level` and index `k`, from the tile below it. */
  async node(level, k) {
    const tl = Math.floor(level / 8);
    const up = level % 8;
    const first = k * 2 ** up; // its first node at level 8*tl
    const t = await this.tile(tl, Math.floor(first / 256));
    let row = [];
    for (let j = 0; j < 2 ** up; j++) {
      const at = ((first % 256) + j) * 32;
      row.push(t.bytes.slice(at, at + 32));
    }
    while (row.length > 1) {
      const next = [];
      for (let j = 0; j < row.length; j += 2) next.push(await nodeHash(row[j], row[j + 1]));
      row = next;
    }
    return row[0];
  }

  /** RFC 6962 MTH of leaves [a, b), a aligned as the recursion makes it. */
  async rangeHash(a, b) {
    const n = b - a;
    if (isPowerOfTwo(n) && a % n === 0) return this.node(Math.log2(n), a / n);
    const k = largestPowerOfTwoBelow(n);
    return nodeHash(await this.rangeHash(a, a + k), await this.rangeHash(a + k, b));
  }

  /** RFC 6962 PATH(m, D[a:b]): the inclusion proof of leaf m, bottom up. */
  async inclusionProof(m, a = 0, b = this.size) {
    const n = b - a;
    if (n === 1) return [];
    const k = largestPowerOfTwoBelow(n);
    if (m < a + k) return [...(await this.inclusionProof(m, a, a + k)), await this.rangeHash(a + k, b)];
    return [...(await this.inclusionProof(m, a + k, b)), await this.rangeHash(a, a + k)];
  }
}

function isPowerOfTwo(n) {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

function largestPowerOfTwoBelow(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** RFC 9162 section 2.1.3.2: the root an inclusion proof leads to. */
export async function rootFromInclusionProof(index, size, leaf, proof) {
  if (index >= size) throw new Failure(`index ${index} is not below the tree size ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Failure('the inclusion proof is longer than the tree is deep');
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Failure('the inclusion proof is shorter than the tree is deep');
  return r;
}

/**
 * Verifies entry `index` against the log's key: the checkpoint's
 * signature, then the entry's inclusion proof computed from the tiles.
 * `fetchText(path)` and `fetchBytes(path)` read the log; `report(step)` is
 * told each step ({ok, what, detail}) as it is decided. Returns the
 * verdict; throws nothing.
 */
export async function verifyEntry({ index, vkey, witnessVkeys = [], fetchText, fetchBytes, report }) {
  const steps = [];
  const step = (ok, what, detail = '') => {
    const s = { ok, what, detail };
    steps.push(s);
    report?.(s);
    return s;
  };
  let current = 'Verifier key';
  try {
    const key = await parseVkey(vkey);
    step(true, 'Verifier key', `${key.name}, key id ${key.keyId} (given to this page, not read from the server)`);

    current = 'Checkpoint';
    const cp = parseCheckpoint(await fetchText('checkpoint'));
    step(true, 'Checkpoint', `${cp.origin}, size ${cp.size}, fetched by this page`);

    current = 'Checkpoint origin';
    if (cp.origin !== key.name) {
      throw new Failure(`the checkpoint's origin is ${JSON.stringify(cp.origin)}, but the key is for ${JSON.stringify(key.name)}`);
    }
    current = 'Checkpoint signature';
    await checkSignature(cp, key);
    step(true, 'Checkpoint signature', `Ed25519 signature by ${key.name} verified with WebCrypto`);

    const cosigned = [];
    for (const w of witnessVkeys) {
      current = 'Witness cosignature';
      const wk = await parseVkey(w);
      const sig = await checkCosignature(cp, wk);
      cosigned.push(wk.name);
      const at = new Date(sig.timestamp * 1000).toISOString().replace('.000Z', 'Z');
      step(true, 'Witness cosignature', `${wk.name} (${wk.keyId}) cosigned at ${at}, verified with WebCrypto`);
    }

    current = 'Entry';
    if (!Number.isSafeInteger(index) || index < 0) throw new Failure(`${index} is not an entry index`);
    if (index >= cp.size) throw new Failure(`entry ${index} is not in the signed tree (size ${cp.size})`);
    const tiles = new Tiles(cp.size, fetchBytes);
    const entry = await tiles.entry(index);
    const leaf = await leafHash(entry);
    step(true, 'Entry', `${entry.length} bytes from ${tiles.read[0]}, leaf hash ${hex(leaf)}`);

    current = 'Leaf hash';
    const listed = await tiles.node(0, index);
    if (!equal(listed, leaf)) {
      throw new Failure(`entry ${index} hashes to ${hex(leaf)}, but the hash tile lists ${hex(listed)}`);
    }

    current = 'Inclusion proof';
    const proof = await tiles.inclusionProof(index);
    const root = await rootFromInclusionProof(index, cp.size, leaf, proof);
    if (!equal(root, cp.root)) {
      throw new Failure(
        `the inclusion proof (${proof.length} hashes from ${tiles.read.filter((p) => !p.startsWith('tile/entries')).join(', ')}) ` +
          `leads to root ${hex(root)}, but the signed checkpoint's root is ${hex(cp.root)}`,
      );
    }
    step(true, 'Inclusion proof', `${proof.length} hashes from ${tiles.read.join(', ')} lead to the signed root ${hex(cp.root)}`);
    const cosigners = witnessVkeys.length ? `, cosigned by ${cosigned.join(', ')}` : '';
    return { ok: true, steps, summary: `Entry ${index} is in the tree of size ${cp.size} that ${key.name} signed${cosigners}.` };
  } catch (e) {
    const reason = e instanceof Failure ? e.message : `${e.message || e}`;
    step(false, current, `FAILED: ${reason}`);
    return { ok: false, steps, failed: current, summary: `Verification failed (${current}): ${reason}` };
  }
}
