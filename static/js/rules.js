// Checks a person gets told about before anything is sent (the server makes
// the same ones: domain/itinerary.py). Pure.

const minutes = (hhmm) => {
  const m = /^(\d{2}):(\d{2})$/.exec(String(hhmm ?? ''));
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
};

/** An error message when an activity would end before (or when) it starts, else null. */
export function timesProblem(startTime, endTime) {
  const start = minutes(startTime);
  const end = minutes(endTime);
  if (start === null || end === null) return null;
  return end > start ? null : `It ends (${endTime}) before it starts (${startTime}).`;
}

/** An error message when another day of the trip already has this date, else null. */
export function dateProblem(trip, date, exceptDayId = null) {
  const taken = (trip?.days || []).find((d) => d.date === date && d.dayId !== exceptDayId);
  if (!taken) return null;
  return `There is already a day on ${date}${taken.title ? ` (${taken.title})` : ''}.`;
}

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;
const TITLE_MAX = 200;
const fail = (title, body = '') => ({ ok: false, title, body });

function readCost(raw) {
  if (raw === '' || raw === undefined || raw === null) return { none: true };
  const cost = Number(raw);
  return Number.isFinite(cost) && cost >= 0 ? { cost } : { bad: true };
}

function readTitle(raw) {
  const title = String(raw ?? '').trim();
  if (!title) return fail('An activity needs a title');
  if (title.length > TITLE_MAX) return fail('Title too long', 'At most 200 characters.');
  return { ok: true, title };
}

/**
 * A new activity from the add form's text: {ok, activity} or {ok:false, title, body}.
 * values: {title, startTime, endTime, location, cost}.
 */
export function newActivity(values) {
  const named = readTitle(values.title);
  if (!named.ok) return named;
  const activity = { title: named.title };
  for (const f of ['startTime', 'endTime']) {
    if (!values[f]) continue;
    if (!TIME.test(values[f])) return fail('Times are HH:MM');
    activity[f] = values[f];
  }
  const problem = timesProblem(activity.startTime, activity.endTime);
  if (problem) return fail('Check the times', problem);
  if (values.location?.trim()) activity.location = values.location.trim();
  const cost = readCost(values.cost);
  if (cost.bad) return fail('Cost must be a number ≥ 0');
  if (!cost.none) activity.cost = cost.cost;
  return { ok: true, activity };
}

/**
 * What an edit form changes of an activity: {ok, changes} (maybe empty) or
 * {ok:false, title, body}. A rename form gives only a title.
 */
export function activityChanges(activity, values) {
  const named = readTitle(values.title);
  if (!named.ok) return named;
  const changes = {};
  if (named.title !== activity.title) changes.title = named.title;
  if (!('startTime' in values)) return { ok: true, changes };
  for (const f of ['startTime', 'endTime']) {
    const v = values[f];
    if (v && !TIME.test(v)) return fail('Times are HH:MM');
    if (v && v !== activity[f]) changes[f] = v;
  }
  for (const f of ['location', 'notes']) {
    const v = String(values[f] ?? '').trim();
    if (v !== (activity[f] ?? '')) changes[f] = v;
  }
  const cost = readCost(values.cost);
  if (cost.bad) return fail('Cost must be a number ≥ 0');
  if (!cost.none && cost.cost !== activity.cost) changes.cost = cost.cost;
  const problem = timesProblem(values.startTime || activity.startTime, values.endTime || activity.endTime);
  if (problem) return fail('Check the times', problem);
  return { ok: true, changes };
}
