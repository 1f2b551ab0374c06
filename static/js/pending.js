// Unsent edits: drawn in place over the trip the server last confirmed, and
// kept in the browser's storage across reloads. Pure, apart from the small
// storage wrapper at the end (which takes its Storage as an argument).

import { applyTripUpdate } from './state.js';

/** Item ids an update touches: {id: 'added' | 'changed' | 'removed'}. */
function touched(updateType, data) {
  const d = data || {};
  switch (updateType) {
    case 'day_added':
      return d.day?.dayId ? { [d.day.dayId]: 'added' } : {};
    case 'day_removed':
      return { [d.dayId]: 'removed' };
    case 'activity_added':
      return d.activity?.activityId ? { [d.activity.activityId]: 'added' } : {};
    case 'activity_updated':
      return { [d.activityId]: 'changed' };
    case 'activity_removed':
      return { [d.activityId]: 'removed' };
    case 'constraint_added':
      return d.constraint?.constraintId ? { [d.constraint.constraintId]: 'added' } : {};
    case 'constraint_removed':
      return { [d.constraintId]: 'removed' };
    default:
      return {};
  }
}

/**
 * The trip as it will be once the queued trip updates land, and which items
 * are not synced yet: {trip, marks: {itemId: 'added'|'changed'|'removed'}}.
 * A removal then re-add of the same id (a move) marks it 'added'.
 */
export function pendingView(trip, entries) {
  if (!trip) return { trip, marks: {} };
  let view = trip;
  const marks = {};
  for (const e of entries || []) {
    if (e.kind !== 'trip' || !e.payload) continue;
    view = applyTripUpdate(view, e.payload.updateType, e.payload.data);
    for (const [id, how] of Object.entries(touched(e.payload.updateType, e.payload.data))) {
      marks[id] = how === 'changed' && marks[id] === 'added' ? 'added' : how;
    }
  }
  return { trip: view, marks };
}

/**
 * The outbox entries of one planned change: one per update, the first based
 * on `baseVersion`, the others chained to the version their previous step is
 * applied at, all in one group when there are several (a move).
 */
export function outboxEntries(tripId, updates, { intent, baseVersion, notBefore = 0, newRef, describe }) {
  const group = updates.length > 1 ? newRef('g') : null;
  const summary = describe(intent);
  return updates.map((u, step) => {
    const raw = { type: 'raw', updateType: u.updateType, data: u.data };
    return {
      id: newRef('u'),
      ref: newRef('c'),
      notBefore,
      event: 'trip_update',
      tripId,
      kind: 'trip',
      payload: { tripId, updateType: u.updateType, data: u.data },
      baseVersion: step === 0 ? baseVersion : null,
      chainBase: step > 0,
      group,
      step,
      intent: step === 0 ? intent : raw,
      summary,
      summaryStep: describe(raw),
    };
  });
}

const KEEP = ['id', 'ref', 'event', 'tripId', 'kind', 'payload', 'baseVersion', 'chainBase', 'group', 'step', 'intent', 'summary', 'summaryStep', 'everSent', 'attempts', 'notBefore'];

/** What of the outbox goes to storage: plain data, no connection state. */
export function outboxToStore(entries) {
  return (entries || []).map((e) => Object.fromEntries(KEEP.filter((k) => e[k] !== undefined).map((k) => [k, e[k]])));
}

/** Entries read back from storage, ready to be sent on the next connection. */
export function outboxFromStore(raw) {
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((e) => e && typeof e === 'object' && typeof e.ref === 'string' && typeof e.tripId === 'string' && e.payload && typeof e.payload === 'object')
    .map((e) => ({ ...e, sentOn: null, sentAt: 0, notBefore: 0 }));
}

/** Per-user keys in a Storage (localStorage), JSON values, never throwing. */
export class LocalKeep {
  constructor(storage, prefix = 'ts.keep') {
    this.storage = storage;
    this.prefix = prefix;
  }

  key(userId, what) {
    return `${this.prefix}.${userId}.${what}`;
  }

  read(userId, what, fallback = null) {
    try {
      const text = this.storage?.getItem(this.key(userId, what));
      return text ? JSON.parse(text) : fallback;
    } catch {
      return fallback;
    }
  }

  write(userId, what, value) {
    try {
      const empty = value === null || value === undefined || (Array.isArray(value) && !value.length) || (typeof value === 'object' && !Array.isArray(value) && !Object.keys(value).length);
      if (empty) this.storage?.removeItem(this.key(userId, what));
      else this.storage?.setItem(this.key(userId, what), JSON.stringify(value));
    } catch {
      /* storage full or disabled: the page keeps working in memory */
    }
  }
}
