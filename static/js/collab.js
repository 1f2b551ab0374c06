// Planning together on the page: the update types that change an item field by field
// (day_updated, constraint_updated), move it (activity_moved) or restore the whole plan
// (trip_restored); what a change replaced, in words, with the change that restores it;
// which key asks for undo or redo. Pure: safe to import from Node for tests.

import { dayWords, fieldList, fieldWord, constraintPhrase } from './words.js';
import { formatDay } from './util.js';

const q = (s) => `“${s}”`;

/** A trip after one of the collaboration update types; null: not one of them. */
export function applyCollabUpdate(trip, updateType, data) {
  const d = data && typeof data === 'object' ? data : {};
  const changes = d.changes && typeof d.changes === 'object' ? d.changes : {};
  switch (updateType) {
    case 'day_updated': {
      const days = trip.days.map((day) => (day.dayId === d.dayId ? merged(day, changes) : day));
      return { ...trip, days: [...days].sort((a, b) => String(a.date).localeCompare(String(b.date))) };
    }
    case 'constraint_updated':
      return {
        ...trip,
        constraints: trip.constraints.map((c) => (c.constraintId === d.constraintId ? mergedConstraint(c, changes) : c)),
      };
    case 'activity_moved':
      return moved(trip, d.activityId, d.toDayId, d.toIndex);
    case 'trip_restored':
      if (!Array.isArray(d.days) || !Array.isArray(d.constraints)) return trip;
      return { ...trip, days: d.days.map((day) => ({ ...day, activities: [...(day.activities || [])] })), constraints: [...d.constraints] };
    default:
      return null;
  }
}

function merged(item, changes) {
  const next = { ...item };
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined) delete next[k];
    else next[k] = v;
  }
  return next;
}

function mergedConstraint(constraint, changes) {
  const next = { ...constraint };
  for (const [k, v] of Object.entries(changes)) {
    if (k === 'value') next.value = v; // null is a value here
    else if (v === null || v === undefined) delete next[k];
    else next[k] = v;
  }
  return next;
}

function moved(trip, activityId, toDayId, toIndex) {
  let moving = null;
  for (const day of trip.days) moving = moving || (day.activities || []).find((a) => a.activityId === activityId) || null;
  if (!moving || !trip.days.some((day) => day.dayId === toDayId)) return trip;
  const days = trip.days.map((day) => {
    let acts = (day.activities || []).filter((a) => a.activityId !== activityId);
    if (day.dayId === toDayId) {
      const at = Number.isInteger(toIndex) ? Math.min(toIndex, acts.length) : acts.length;
      acts = [...acts.slice(0, at), moving, ...acts.slice(at)];
    }
    return { ...day, activities: acts };
  });
  return { ...trip, days };
}

/** Words for a collaboration update (null: not one of them). */
export function describeCollabUpdate(tripBefore, updateType, data) {
  const d = data && typeof data === 'object' ? data : {};
  const changes = d.changes && typeof d.changes === 'object' ? d.changes : {};
  switch (updateType) {
    case 'day_updated': {
      const day = (tripBefore?.days || []).find((x) => x.dayId === d.dayId);
      const parts = [];
      if ('title' in changes) parts.push(changes.title ? `renamed it ${q(changes.title)}` : 'cleared its title');
      if (changes.date) parts.push(`moved it to ${formatDay(changes.date)}`);
      return `changed ${dayWords(day)}${parts.length ? `: ${parts.join(', ')}` : ''}`;
    }
    case 'constraint_updated': {
      const c = (tripBefore?.constraints || []).find((x) => x.constraintId === d.constraintId);
      return `changed the ${fieldList(Object.keys(changes))} of ${c ? constraintPhrase(c) : 'a budget or need'}`;
    }
    case 'activity_moved': {
      const title = findTitle(tripBefore, d.activityId);
      const day = (tripBefore?.days || []).find((x) => x.dayId === d.toDayId);
      return d.toDayId === d.dayId ? `reordered ${q(title)}` : `moved ${q(title)} to ${day ? dayWords(day) : 'another day'}`;
    }
    case 'trip_restored':
      return 'restored an earlier version of the plan';
    default:
      return null;
  }
}

function findTitle(trip, activityId) {
  for (const day of trip?.days || []) {
    const found = (day.activities || []).find((a) => a.activityId === activityId);
    if (found) return found.title;
  }
  return 'an activity';
}

/**
 * The values of mine a change replaced, as [{field, from, to, restore}] where
 * `restore` is the trip update that puts my value back (null for others' values).
 */
export function replacedOfMine(updateType, data, selfId) {
  const d = data && typeof data === 'object' ? data : {};
  const replaced = d.replaced && typeof d.replaced === 'object' ? d.replaced : {};
  const out = [];
  for (const [field, was] of Object.entries(replaced)) {
    if (!was || was.by !== selfId || !('value' in was)) continue;
    const change = { [field]: was.value };
    let restore = null;
    if (updateType === 'activity_updated') restore = { updateType, data: { dayId: d.dayId, activityId: d.activityId, changes: change } };
    if (updateType === 'day_updated') restore = { updateType, data: { dayId: d.dayId, changes: change } };
    if (updateType === 'constraint_updated') restore = { updateType, data: { constraintId: d.constraintId, changes: change } };
    out.push({ field, from: was.value, to: d.changes?.[field], restore });
  }
  return out;
}

/** "Ben changed the title from “A” to “B”" for each value of mine a change replaced. */
export function replacedWords(who, replaced) {
  return replaced.map((r) => `${who} changed the ${fieldWord(r.field)} from ${q(r.from)} to ${r.to == null ? 'nothing' : q(r.to)}`);
}

/** 'undo', 'redo' or null for a keydown: Ctrl/Cmd+Z, Ctrl/Cmd+Shift+Z or Ctrl+Y, outside text fields. */
export function undoKeyOf(event) {
  if (!event || !(event.ctrlKey || event.metaKey) || event.altKey) return null;
  const tag = String(event.target?.tagName || '').toLowerCase();
  if (tag === 'input' || tag === 'textarea' || tag === 'select' || event.target?.isContentEditable) return null;
  const key = String(event.key || '').toLowerCase();
  if (key === 'z') return event.shiftKey ? 'redo' : 'undo';
  if (key === 'y' && !event.shiftKey) return 'redo';
  return null;
}

const HISTORY_WORDS = {
  trip_created: 'created the trip',
  day_added: 'added a day',
  day_removed: 'removed a day',
  activity_added: 'added an activity',
  activity_updated: 'edited an activity',
  activity_removed: 'removed an activity',
  constraint_added: 'added a budget or need',
  constraint_removed: 'removed a budget or need',
  collaborator_added: 'invited someone',
  collaborator_removed: 'removed someone from the trip',
  invites_revoked: "revoked the trip's invite links",
};

/** What a change of the history did, named from its own data and the trip as it is now (null: say it generally). */
function historyWhat(updateType, d, trip) {
  const day = (id) => (trip?.days || []).find((x) => x.dayId === id) ?? null;
  const changes = d.changes && typeof d.changes === 'object' ? d.changes : {};
  switch (updateType) {
    case 'day_added':
      return d.day?.date ? `added ${dayWords(d.day)}` : null;
    case 'activity_added':
      return d.activity?.title ? `added ${q(d.activity.title)}${day(d.dayId) ? ` to ${dayWords(day(d.dayId))}` : ''}` : null;
    case 'activity_updated': {
      const was = d.replaced?.title?.value;
      if (typeof changes.title === 'string' && typeof was === 'string') return `renamed ${q(was)} to ${q(changes.title)}`;
      const title = typeof changes.title === 'string' ? changes.title : findTitle(trip, d.activityId);
      return Object.keys(changes).length ? `changed the ${fieldList(Object.keys(changes))} of ${title === 'an activity' ? title : q(title)}` : null;
    }
    case 'constraint_added':
      return d.constraint ? `added ${constraintPhrase(d.constraint)}` : null;
    default:
      return null;
  }
}

/** One history entry in words: "Ben added “Fado” to Fri 1 May 2026" (no ids, no version numbers). */
export function historyLine(change, who, trip = null) {
  const d = change.data || {};
  const what = historyWhat(change.updateType, d, trip) ?? HISTORY_WORDS[change.updateType] ?? describeCollabUpdate(trip, change.updateType, d) ?? 'changed the trip';
  const revert = d.undoes ? ' (undo)' : d.redoes ? ' (redo)' : '';
  return `${who} ${what}${revert}`;
}

const REVERT_WORDS = { undo: 'undoing a change', redo: 'redoing a change', restore: 'restoring an earlier version' };

/**
 * A `change_replaced` notification as {title, body}: who changed which of my values,
 * from what to what ("Ben changed the title from “A” to “B”").
 */
export function changeNotificationText(n) {
  const who = n?.fromName || 'Someone';
  const how = n?.reverts ? ` (${REVERT_WORDS[n.reverts] ?? 'undoing a change'})` : '';
  const lines = (Array.isArray(n?.changes) ? n.changes : []).map((e) => {
    if (e.removed) return `removed the ${fieldWord(e.field)} ${q(e.from)}`;
    if (e.field === 'position') return 'moved an activity of yours';
    return `changed the ${fieldWord(e.field)} from ${e.from == null ? 'nothing' : q(e.from)} to ${e.to == null ? 'nothing' : q(e.to)}`;
  });
  const more = n?.more ? `; and ${n.more} more` : '';
  return { title: `${who} changed what you set${how}`, body: lines.join('; ') + more };
}
