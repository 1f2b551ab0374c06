// Others' changes in words: what to flash, where, and what to announce
// ("Ada removed Tue 5 May · Belém · 4 activities"). Pure.

import { describeUpdate, findActivity, findDay } from './state.js';
import { formatDay } from './util.js';
import { nameOf } from './people.js';

const activities = (n) => (n === 1 ? '1 activity' : `${n} activities`);

/** The item an update shows on: a day, an activity or a constraint id (or null). */
export function itemOf(updateType, data) {
  const d = data || {};
  switch (updateType) {
    case 'day_added':
      return d.day?.dayId ?? null;
    case 'activity_added':
      return d.activity?.activityId ?? null;
    case 'activity_updated':
      return d.activityId ?? null;
    case 'constraint_added':
      return d.constraint?.constraintId ?? null;
    default:
      return null;
  }
}

/** What a removal takes with it, in words: "Tue 5 May · Belém · 4 activities". */
export function removalWords(tripBefore, updateType, data) {
  const d = data || {};
  if (updateType === 'day_removed') {
    const day = findDay(tripBefore, d.dayId);
    if (!day) return 'a day';
    const n = (day.activities || []).length;
    return [formatDay(day.date), day.title, n ? activities(n) : null].filter(Boolean).join(' · ');
  }
  if (updateType === 'activity_removed') {
    const found = findActivity(tripBefore, d.activityId, d.dayId);
    return found ? `“${found.activity.title}”` : 'an activity';
  }
  return null;
}

/**
 * Someone else's trip update as {userId, who, itemId, text, removal}, or null
 * for one's own (or no author). text is a whole sentence for a live region.
 */
export function othersChange(tripBefore, data, names, selfId) {
  if (!data || !data.userId || data.userId === selfId || data.updateType === 'snapshot') return null;
  const who = nameOf(data.userId, names, selfId);
  const removal = removalWords(tripBefore, data.updateType, data.data);
  const other = data.data?.userId === selfId ? 'you' : nameOf(data.data?.userId, names, null);
  const people = { collaborator_added: `invited ${other} to the trip`, collaborator_removed: `removed ${other} from the trip` };
  const what = people[data.updateType] ?? describeUpdate(tripBefore, data.updateType, data.data);
  const text = removal ? `${who} removed ${removal}` : `${who} ${what}`;
  return { userId: data.userId, who, itemId: itemOf(data.updateType, data.data), text, removal };
}

/** How many items a removal intent takes: the day and its activities, or 1. */
export function removalSize(trip, intent) {
  if (intent?.type === 'remove_day') return 1 + (findDay(trip, intent.dayId)?.activities?.length ?? 0);
  return 1;
}
