// Small pure helpers: JWT decoding, ids, refs, avatars, formatting.
// No DOM here; importable from Node (uses atob, TextDecoder, crypto globals).

import { OBJECT_ID_RE } from './protocol.js';

/** Decode a base64url string to UTF-8 text. */
export function base64UrlDecode(segment) {
  let b64 = String(segment).replace(/-/g, '+').replace(/_/g, '/');
  while (b64.length % 4) b64 += '=';
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/**
 * Decode (never verify) a JWT's payload. Throws an Error with a friendly
 * message when the text is not a JWT.
 */
export function decodeJwt(token) {
  const parts = String(token ?? '').trim().split('.');
  if (parts.length !== 3 || !parts[1]) {
    throw new Error('That does not look like a JWT (expected three dot-separated parts).');
  }
  let payload;
  try {
    payload = JSON.parse(base64UrlDecode(parts[1]));
  } catch {
    throw new Error('The token payload is not valid base64url JSON.');
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new Error('The token payload is not a JSON object.');
  }
  return payload;
}

/** What the UI needs from a token: who, role, expiry. */
export function describeToken(token, now = Date.now()) {
  const payload = decodeJwt(token);
  const sub = typeof payload.sub === 'string' ? payload.sub : '';
  const role = payload.role === 'admin' ? 'admin' : 'user';
  const exp = typeof payload.exp === 'number' ? payload.exp * 1000 : null;
  return {
    sub,
    name: typeof payload.name === 'string' && payload.name.trim() ? payload.name.trim() : null,
    role,
    isAdmin: role === 'admin',
    expiresAt: exp,
    expired: exp !== null && exp <= now,
    validSub: OBJECT_ID_RE.test(sub),
  };
}

function randomBytes(n) {
  const bytes = new Uint8Array(n);
  globalThis.crypto.getRandomValues(bytes);
  return bytes;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A unique frame ref like `c-k3j9x0a1b2c3d4e5` (well under 64 chars). */
export function newRef(prefix = 'c') {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  const bytes = randomBytes(16);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return `${prefix}-${out}`;
}

/** A MongoDB-style ObjectId string (seconds + random), 24 lowercase hex. */
export function newObjectId(now = Date.now()) {
  const secs = Math.floor(now / 1000).toString(16).padStart(8, '0').slice(-8);
  return secs + hex(randomBytes(8));
}

export function isObjectId(value) {
  return typeof value === 'string' && OBJECT_ID_RE.test(value);
}

/** Stable 32-bit hash of a string (FNV-1a). */
export function hashString(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Avatar colour derived from the user id: same user, same colour everywhere. */
export function colorFor(userId) {
  const h = hashString(String(userId ?? '')) % 360;
  return `hsl(${h} 58% 42%)`;
}

/** Up to two initials from a display name, else from the user id. */
export function initials(name, userId = '') {
  const words = String(name ?? '').trim().split(/\s+/).filter(Boolean);
  if (words.length >= 2) return (words[0][0] + words[words.length - 1][0]).toUpperCase();
  if (words.length === 1) return words[0].slice(0, 2).toUpperCase();
  const id = String(userId ?? '');
  return id ? id.slice(-2).toUpperCase() : '?';
}

/** A short label for a user id without a known name. */
export function shortId(userId) {
  const id = String(userId ?? '');
  return id.length > 8 ? `user …${id.slice(-6)}` : id || 'someone';
}

/**
 * Parse a constraint value typed by a user: JSON when it parses
 * (1500, true, ["museum"], {"max": 3}), otherwise the trimmed text.
 */
export function parseConstraintValue(text) {
  const trimmed = String(text ?? '').trim();
  if (trimmed === '') return '';
  try {
    return JSON.parse(trimmed);
  } catch {
    return trimmed;
  }
}

/** Render any constraint value compactly for display. */
export function formatValue(value) {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * Keys the contract refuses anywhere in client data: starting with `$` or
 * containing `.`. Returns the first bad key path or null.
 */
export function findBadKey(value, path = '') {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findBadKey(value[i], `${path}[${i}]`);
      if (bad) return bad;
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.startsWith('$') || k.includes('.')) return path ? `${path}.${k}` : k;
      const bad = findBadKey(v, path ? `${path}.${k}` : k);
      if (bad) return bad;
    }
  }
  return null;
}

/** Nesting depth of a JSON value (a scalar is 0, `{}` is 1). */
export function depthOf(value) {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (value && typeof value === 'object') return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

/**
 * Exponential back-off with jitter: half fixed, half random, capped.
 * attempt 1 -> ~0.5 s, 2 -> ~1 s, 3 -> ~2 s ... capped at `cap`.
 */
export function backoffDelay(attempt, { base = 500, cap = 10_000, random = Math.random } = {}) {
  const n = Math.max(1, Math.floor(attempt));
  const ceiling = Math.min(cap, base * 2 ** (n - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

const pad = (n) => String(n).padStart(2, '0');

/** `14:05` from an ISO timestamp (local time). */
export function formatClock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** `Mon 12 May 2025` from `2025-05-12` (no time zone shift). */
export function formatDay(date) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(date ?? ''));
  if (!m) return String(date ?? '');
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${days[d.getUTCDay()]} ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** The date after `YYYY-MM-DD`, or today when none is given. */
export function nextDate(date, now = new Date()) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(date ?? ''));
  const d = m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3] + 1)) : new Date(Date.UTC(now.getFullYear(), now.getMonth(), now.getDate()));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** `1 234.50` style cost formatting, no currency assumption. */
export function formatCost(cost) {
  if (typeof cost !== 'number' || !Number.isFinite(cost)) return '';
  return cost.toLocaleString(undefined, { minimumFractionDigits: 0, maximumFractionDigits: 2 });
}
