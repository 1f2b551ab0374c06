// Pure state for one open trip room: reducers that fold server events into
// state, plus the planning helpers that turn a user's intent into
// `trip_update` payloads. No DOM, no I/O, no clock (time comes in via ctx),
// so `node --test static/js/state.test.mjs` can drive it.
//
// Room state shape:
// {
//   tripId,
//   trip: null | {tripId, title, ownerId, collaborators, days:[{dayId, date, title?,
//          activities:[...]}], constraints:[...], version, updatedAt},
//   lastSeq: highest trip-stream seq applied (0 = none yet),
//   pendingHead: head seq announced by a non-recovered trip_room_joined, taken
//                into lastSeq when the snapshot that follows arrives,
//   joined, recovered, revoked,
//   members: [{userId, name?, status}],
//   typing: {userId: timestampMs},
//   messages: [{messageId, userId, name?, message, type, timestamp, seq?}],
//   history: recent applied trip updates [{seq, version, updateType, data, userId,
//            timestamp, ref, summary}], complete from version `historyFrom` on,
//   names: {userId: displayName},
// }

import { chatExtras } from './chat-changes.js';
import { ACTIVITY_FIELDS, ServerEvent } from './protocol.js';
import { dayWords, fieldList, constraintPhrase } from './words.js';
import { applyCollabUpdate, describeCollabUpdate } from './collab.js';

const HISTORY_LIMIT = 100;
export const TYPING_TTL_MS = 6000;

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function createRoom(tripId) {
  return {
    tripId,
    trip: null,
    lastSeq: 0,
    pendingHead: null,
    headSeq: null,
    joined: false,
    recovered: false,
    revoked: false,
    members: [],
    typing: {},
    messages: [],
    hasOlderMessages: true,
    history: [],
    historyFrom: null,
    names: {},
  };
}

// ---------------------------------------------------------------- trip state

export function normalizeTrip(trip) {
  const t = trip && typeof trip === 'object' ? trip : {};
  return {
    ...t,
    collaborators: Array.isArray(t.collaborators) ? [...t.collaborators] : [],
    days: (Array.isArray(t.days) ? t.days : []).map((d) => ({
      ...d,
      activities: (Array.isArray(d.activities) ? d.activities : []).map((a) => ({ ...a })),
    })),
    constraints: (Array.isArray(t.constraints) ? t.constraints : []).map((c) => ({ ...c })),
    version: num(t.version) ?? 0,
  };
}

/** Find an activity anywhere in the trip: {day, activity} or null. */
export function findActivity(trip, activityId, preferDayId = null) {
  if (!trip) return null;
  const days = trip.days || [];
  const order = preferDayId ? [...days.filter((d) => d.dayId === preferDayId), ...days.filter((d) => d.dayId !== preferDayId)] : days;
  for (const day of order) {
    const activity = (day.activities || []).find((a) => a.activityId === activityId);
    if (activity) return { day, activity };
  }
  return null;
}

export function findDay(trip, dayId) {
  return (trip?.days || []).find((d) => d.dayId === dayId) || null;
}

function upsert(list, item, key) {
  const idx = item[key] == null ? -1 : list.findIndex((x) => x[key] === item[key]);
  if (idx === -1) return [...list, item];
  const copy = [...list];
  copy[idx] = item;
  return copy;
}

function mapActivityDay(trip, dayId, activityId, fn) {
  // Apply fn(activities) to the day named by dayId, or (if the activity is not
  // there, e.g. it moved) to whichever day holds the activity.
  const found = activityId ? findActivity(trip, activityId, dayId) : null;
  const targetDayId = found ? found.day.dayId : dayId;
  return {
    ...trip,
    days: trip.days.map((d) => (d.dayId === targetDayId ? { ...d, activities: fn(d.activities || []) } : d)),
  };
}

/**
 * Apply one trip update (any updateType but `snapshot`) to a trip. Returns a
 * new trip; unknown types and references to missing items leave it as is.
 * Version bookkeeping is the caller's job.
 */
export function applyTripUpdate(trip, updateType, data) {
  if (!trip) return trip;
  const d = data && typeof data === 'object' ? data : {};
  switch (updateType) {
    case 'day_added': {
      if (!d.day || typeof d.day !== 'object') return trip;
      const existing = d.day.dayId ? findDay(trip, d.day.dayId) : null;
      const day = { ...d.day, activities: (d.day.activities || existing?.activities || []).map((a) => ({ ...a })) };
      return { ...trip, days: upsert(trip.days, day, 'dayId') };
    }
    case 'day_removed':
      return { ...trip, days: trip.days.filter((day) => day.dayId !== d.dayId) };
    case 'activity_added': {
      if (!d.activity || typeof d.activity !== 'object' || !findDay(trip, d.dayId)) return trip;
      const activity = { ...d.activity };
      // An activity lives in one day: drop a stale copy elsewhere (moves).
      const days = trip.days.map((day) => {
        if (day.dayId === d.dayId) return { ...day, activities: upsert(day.activities || [], activity, 'activityId') };
        if (activity.activityId && (day.activities || []).some((a) => a.activityId === activity.activityId)) {
          return { ...day, activities: day.activities.filter((a) => a.activityId !== activity.activityId) };
        }
        return day;
      });
      return { ...trip, days };
    }
    case 'activity_updated': {
      const changes = d.changes && typeof d.changes === 'object' ? d.changes : {};
      if (!findActivity(trip, d.activityId, d.dayId)) return trip;
      return mapActivityDay(trip, d.dayId, d.activityId, (acts) =>
        acts.map((a) => {
          if (a.activityId !== d.activityId) return a;
          const next = { ...a };
          for (const [k, v] of Object.entries(changes)) {
            if (v === null || v === undefined) delete next[k];
            else next[k] = v;
          }
          return next;
        }),
      );
    }
    case 'activity_removed':
      if (!findActivity(trip, d.activityId, d.dayId)) return trip;
      return mapActivityDay(trip, d.dayId, d.activityId, (acts) => acts.filter((a) => a.activityId !== d.activityId));
    case 'constraint_added':
      if (!d.constraint || typeof d.constraint !== 'object') return trip;
      return { ...trip, constraints: upsert(trip.constraints, { ...d.constraint }, 'constraintId') };
    case 'constraint_removed':
      return { ...trip, constraints: trip.constraints.filter((c) => c.constraintId !== d.constraintId) };
    case 'collaborator_added':
      if (!d.userId || trip.collaborators.includes(d.userId)) return trip;
      return { ...trip, collaborators: [...trip.collaborators, d.userId] };
    case 'collaborator_removed':
      return { ...trip, collaborators: trip.collaborators.filter((u) => u !== d.userId) };
    default:
      return applyCollabUpdate(trip, updateType, d) ?? trip;
  }
}

/** Days by date (stable for equal dates). */
export function sortDays(days) {
  return (days || [])
    .map((d, i) => [d, i])
    .sort((a, b) => String(a[0].date).localeCompare(String(b[0].date)) || a[1] - b[1])
    .map(([d]) => d);
}

/** Activities by start time; those without one keep their order at the end. */
export function sortActivities(activities) {
  return (activities || [])
    .map((a, i) => [a, i])
    .sort((a, b) => {
      const sa = a[0].startTime || '99:99';
      const sb = b[0].startTime || '99:99';
      return sa.localeCompare(sb) || a[1] - b[1];
    })
    .map(([a]) => a);
}

// ---------------------------------------------------------- descriptions

const q = (s) => `“${s}”`;

/** One line saying what an update did, judged against the trip before it. */
export function describeUpdate(tripBefore, updateType, data) {
  const d = data && typeof data === 'object' ? data : {};
  switch (updateType) {
    case 'snapshot':
      return 'loaded the trip';
    case 'day_added':
      return `added ${dayWords(d.day)}`;
    case 'day_removed':
      return `removed ${dayWords(findDay(tripBefore, d.dayId))}`;
    case 'activity_added': {
      const day = findDay(tripBefore, d.dayId);
      const moved = d.activity?.activityId && findActivity(tripBefore, d.activity.activityId);
      if (moved && day) return `moved ${q(d.activity.title ?? moved.activity.title)} to ${dayWords(day)}`;
      return `added ${d.activity?.title ? q(d.activity.title) : 'an activity'}${day ? ` to ${dayWords(day)}` : ''}`;
    }
    case 'activity_updated': {
      const found = findActivity(tripBefore, d.activityId, d.dayId);
      const old = found?.activity?.title ?? 'an activity';
      const changes = d.changes && typeof d.changes === 'object' ? d.changes : {};
      if (typeof changes.title === 'string' && changes.title !== old) {
        const rest = Object.keys(changes).filter((k) => k !== 'title');
        return `renamed ${q(old)} to ${q(changes.title)}${rest.length ? ` (and changed its ${fieldList(rest)})` : ''}`;
      }
      return `changed the ${fieldList(Object.keys(changes))} of ${found ? q(old) : old}`;
    }
    case 'activity_removed': {
      const found = findActivity(tripBefore, d.activityId, d.dayId);
      return `removed ${found ? q(found.activity.title) : 'an activity'}`;
    }
    case 'constraint_added':
      return `added ${constraintPhrase(d.constraint)}`;
    case 'constraint_removed':
      return `removed ${constraintPhrase((tripBefore?.constraints || []).find((x) => x.constraintId === d.constraintId))}`;
    case 'collaborator_added':
      return 'invited someone to the trip';
    case 'collaborator_removed':
      return 'removed someone from the trip';
    case 'invites_revoked':
      return "revoked the trip's invite links";
    default:
      return describeCollabUpdate(tripBefore, updateType, d) ?? 'changed the trip';
  }
}

const CONFLICT_WORDS = {
  day_added: 'a day was added',
  day_removed: 'a day was removed',
  activity_added: 'an activity was added',
  activity_updated: 'the activity was edited',
  activity_removed: 'the activity was removed',
  constraint_added: 'a constraint was added',
  constraint_removed: 'a constraint was removed',
  collaborator_added: 'a collaborator was added',
  collaborator_removed: 'a collaborator was removed',
  snapshot: 'the trip was reloaded',
};

/** Human words for a CONFLICT's `conflictsWith` list. */
export function describeConflictTypes(types) {
  const words = (Array.isArray(types) ? types : []).map((t) => CONFLICT_WORDS[t] || t.replace(/_/g, ' '));
  return [...new Set(words)];
}

// --------------------------------------------------------------- messages

function compareMessages(a, b) {
  if (a.seq != null && b.seq != null) return a.seq - b.seq;
  const ta = String(a.timestamp ?? '');
  const tb = String(b.timestamp ?? '');
  return ta < tb ? -1 : ta > tb ? 1 : 0;
}

function normalizeMessage(m) {
  return {
    messageId: m.messageId ?? m.id ?? null,
    tripId: m.tripId,
    userId: m.userId ?? null,
    name: m.name ?? null,
    message: String(m.message ?? ''),
    type: m.type || 'text',
    timestamp: m.timestamp ?? null,
    seq: num(m.seq),
    ...chatExtras(m),
  };
}

/** Merge messages (history pages or live) by messageId, ordered by seq/time. */
export function mergeMessages(existing, incoming) {
  const byId = new Map();
  const anonymous = [];
  for (const m of [...existing, ...incoming.map(normalizeMessage)]) {
    if (m.messageId == null) anonymous.push(m);
    else byId.set(m.messageId, { ...byId.get(m.messageId), ...m, seq: m.seq ?? byId.get(m.messageId)?.seq ?? null });
  }
  return [...byId.values(), ...anonymous].sort(compareMessages);
}

/** Fold a REST history page into the room (older pages: `older` true). */
export function applyHistory(room, messages, { limit = 50, older = false } = {}) {
  const list = Array.isArray(messages) ? messages : [];
  const names = { ...room.names };
  for (const m of list) if (m.userId && m.name) names[m.userId] = m.name;
  return {
    ...room,
    names,
    messages: mergeMessages(room.messages, list),
    hasOlderMessages: older || room.messages.length === 0 ? list.length >= limit : room.hasOlderMessages,
  };
}

// ---------------------------------------------------------------- reducer

function withName(names, userId, name) {
  if (!userId || !name || names[userId] === name) return names;
  return { ...names, [userId]: name };
}

function withoutKey(obj, key) {
  if (!(key in obj)) return obj;
  const copy = { ...obj };
  delete copy[key];
  return copy;
}

/**
 * Fold one server frame `{event, data, ref}` into the room.
 * Returns {room, info} where info tells the caller what happened:
 *   ignored   - not for this room / not a room event
 *   duplicate - a stream event whose seq was seen already (dropped)
 *   gap       - applied, but seq jumped past lastSeq + 1 (something missed)
 *   snapshot  - the trip was replaced wholesale
 *   applied   - state changed
 *   seq       - the stream position of the event, when it has one
 */
export function reduceRoom(room, frame, ctx = {}) {
  const now = ctx.now ?? 0;
  const event = frame?.event;
  const data = frame?.data && typeof frame.data === 'object' ? frame.data : null;
  const none = (extra = {}) => ({ room, info: { ignored: true, ...extra } });
  if (!room || !data) return none();
  if (data.tripId != null && data.tripId !== room.tripId) return none();

  switch (event) {
    case 'trip_room_joined': {
      let names = room.names;
      const members = (Array.isArray(data.members) ? data.members : []).map((m) => {
        names = withName(names, m.userId, m.name);
        return { userId: m.userId, name: m.name ?? null, status: m.status || 'online' };
      });
      const head = num(data.seq);
      return {
        room: {
          ...room,
          joined: true,
          revoked: false,
          recovered: Boolean(data.recovered),
          members,
          names,
          typing: {},
          headSeq: head,
          // Recovered: the missed events follow and advance lastSeq themselves.
          // Not recovered: a snapshot follows; the head is taken in with it.
          pendingHead: data.recovered ? null : head,
        },
        info: { applied: true, recovered: Boolean(data.recovered) },
      };
    }

    case 'trip_updated': {
      if (data.updateType === 'snapshot') {
        if (!data.trip || typeof data.trip !== 'object') return none();
        const trip = normalizeTrip({ ...data.trip, version: num(data.version) ?? num(data.trip.version) ?? 0 });
        const lastSeq = Math.max(room.lastSeq, room.pendingHead ?? 0, trip.version);
        return {
          room: { ...room, trip, lastSeq, pendingHead: null, history: [], historyFrom: trip.version },
          info: { applied: true, snapshot: true, seq: trip.version },
        };
      }
      const seq = num(data.seq) ?? num(data.version);
      if (seq !== null && seq <= room.lastSeq) return { room, info: { duplicate: true, seq } };
      if (!room.trip) return { room, info: { ignored: true, noTrip: true, seq } };
      const gap = seq !== null && room.lastSeq > 0 && seq > room.lastSeq + 1;
      const version = num(data.version) ?? seq ?? room.trip.version;
      const payload = data.data && typeof data.data === 'object' ? data.data : {};
      const trip = {
        ...applyTripUpdate(room.trip, data.updateType, payload),
        version: Math.max(room.trip.version, version),
        updatedAt: data.timestamp ?? room.trip.updatedAt,
      };
      const entry = {
        seq,
        version,
        updateType: data.updateType,
        data: payload,
        userId: data.userId ?? null,
        timestamp: data.timestamp ?? null,
        ref: frame.ref ?? null,
        summary: describeUpdate(room.trip, data.updateType, payload),
      };
      const history = [...room.history, entry].slice(-HISTORY_LIMIT);
      const historyFrom = room.history.length + 1 > HISTORY_LIMIT ? history[0].version - 1 : room.historyFrom;
      return {
        room: { ...room, trip, history, historyFrom: gap ? version : historyFrom, lastSeq: seq ?? room.lastSeq },
        info: { applied: true, gap, seq },
      };
    }

    case 'chat_message': {
      const seq = num(data.seq);
      if (seq !== null && seq <= room.lastSeq) return { room, info: { duplicate: true, seq } };
      if (data.messageId != null && room.messages.some((m) => m.messageId === data.messageId)) {
        return { room: { ...room, lastSeq: Math.max(room.lastSeq, seq ?? 0) }, info: { duplicate: true, seq } };
      }
      const gap = seq !== null && room.lastSeq > 0 && seq > room.lastSeq + 1;
      // A chat message is a trip-stream event too: the trip's version is the
      // stream head, so it moves with the message's seq.
      const trip = room.trip && seq !== null && seq > room.trip.version ? { ...room.trip, version: seq } : room.trip;
      return {
        room: {
          ...room,
          trip,
          messages: mergeMessages(room.messages, [data]),
          names: withName(room.names, data.userId, data.name),
          typing: withoutKey(room.typing, data.userId),
          lastSeq: seq ?? room.lastSeq,
        },
        info: { applied: true, gap, seq },
      };
    }

    case 'user_joined': {
      if (!data.userId) return none();
      const existing = room.members.find((m) => m.userId === data.userId);
      const member = { userId: data.userId, name: data.name ?? existing?.name ?? null, status: existing?.status ?? 'online' };
      return {
        room: { ...room, members: upsert(room.members, member, 'userId'), names: withName(room.names, data.userId, data.name) },
        info: { applied: true },
      };
    }

    case 'user_left':
      return {
        room: { ...room, members: room.members.filter((m) => m.userId !== data.userId), typing: withoutKey(room.typing, data.userId) },
        info: { applied: true },
      };

    case 'presence_summary': {
      // a large room's joins and leaves not told yet, each user's net change (docs/asyncapi.yaml): what a
      // capped list leaves out comes in the next summary, so the lists alone keep the members right;
      // it goes to every member, so it may name this user: a member list never drops its own user
      let next = room;
      for (const entry of Array.isArray(data.left) ? data.left : []) {
        if (entry?.userId && entry.userId !== ctx.selfId) next = reduceRoom(next, { event: 'user_left', data: entry }, ctx).room;
      }
      for (const entry of Array.isArray(data.joined) ? data.joined : []) {
        if (entry?.userId) next = reduceRoom(next, { event: 'user_joined', data: entry }, ctx).room;
      }
      return { room: next, info: { applied: true } };
    }

    case 'user_presence_updated': {
      if (!data.userId) return none();
      const existing = room.members.find((m) => m.userId === data.userId);
      const member = { userId: data.userId, name: existing?.name ?? room.names[data.userId] ?? null, status: data.status || 'online' };
      return { room: { ...room, members: upsert(room.members, member, 'userId') }, info: { applied: true } };
    }

    case 'user_typing': {
      if (!data.userId) return none();
      const typing = data.isTyping === true ? { ...room.typing, [data.userId]: now } : withoutKey(room.typing, data.userId);
      return { room: { ...room, typing }, info: { applied: true } };
    }

    case 'trip_room_left':
      return {
        room: { ...room, joined: false, members: [], typing: {}, revoked: data.reason === 'access_revoked' },
        info: { applied: true, revoked: data.reason === 'access_revoked' },
      };

    default:
      return none();
  }
}

/** The users a presence frame says have left the room: user_left's one, a summary's `left` list. */
export function leftUsers({ event, data }) {
  if (event === ServerEvent.USER_LEFT) return data?.userId ? [data.userId] : [];
  if (event !== ServerEvent.PRESENCE_SUMMARY || !Array.isArray(data?.left)) return [];
  return data.left.map((entry) => entry?.userId).filter(Boolean);
}

/** Ids of users typing right now (server clears after 5 s; we also expire). */
export function typingUsers(room, now, selfId = null) {
  return Object.entries(room?.typing || {})
    .filter(([userId, at]) => userId !== selfId && now - at < TYPING_TTL_MS)
    .map(([userId]) => userId);
}

/** "Ana is typing…", "Ana and Bo are typing…", "3 people are typing…". */
export function typingText(names) {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

// --------------------------------------------------------------- planning

function cleanActivity(activity, { keepId = true } = {}) {
  const out = {};
  for (const k of ACTIVITY_FIELDS) {
    const v = activity?.[k];
    if (v === undefined || v === null || v === '') continue;
    out[k] = v;
  }
  if (keepId && activity?.activityId) out.activityId = activity.activityId;
  return out;
}

/**
 * Turn a user intent into the trip updates to send, judged against the
 * current trip (so a re-apply after a CONFLICT is rebuilt on the latest
 * state). Returns {ok:true, updates:[{updateType, data}]} or {ok:false, error}.
 *
 * Intents:
 *   {type:'add_day', day:{date, title?}}
 *   {type:'remove_day', dayId}
 *   {type:'add_activity', dayId, activity:{title, ...}}
 *   {type:'update_activity', activityId, changes:{...}}
 *   {type:'move_activity', activityId, toDayId}
 *   {type:'remove_activity', activityId}
 *   {type:'add_constraint', constraint:{type, value, description?}}
 *   {type:'remove_constraint', constraintId}
 *   {type:'raw', updateType, data}  (a single step, sent as is)
 */
export function planUpdates(trip, intent) {
  const fail = (error) => ({ ok: false, error });
  if (!trip) return fail('The trip is not loaded yet.');
  switch (intent?.type) {
    case 'add_day':
      if (!/^\d{4}-\d{2}-\d{2}$/.test(intent.day?.date ?? '')) return fail('Pick a date (YYYY-MM-DD).');
      return { ok: true, updates: [{ updateType: 'day_added', data: { day: stripEmpty(intent.day) } }] };
    case 'remove_day':
      if (!findDay(trip, intent.dayId)) return fail('That day no longer exists.');
      return { ok: true, updates: [{ updateType: 'day_removed', data: { dayId: intent.dayId } }] };
    case 'add_activity':
      if (!findDay(trip, intent.dayId)) return fail('That day no longer exists.');
      if (!String(intent.activity?.title ?? '').trim()) return fail('An activity needs a title.');
      return {
        ok: true,
        updates: [{ updateType: 'activity_added', data: { dayId: intent.dayId, activity: cleanActivity(intent.activity) } }],
      };
    case 'update_activity': {
      const found = findActivity(trip, intent.activityId);
      if (!found) return fail('That activity no longer exists.');
      const changes = intent.changes && typeof intent.changes === 'object' ? intent.changes : {};
      if (Object.keys(changes).length === 0) return fail('Nothing to change.');
      return {
        ok: true,
        updates: [
          {
            updateType: 'activity_updated',
            data: { dayId: found.day.dayId, activityId: intent.activityId, changes: { ...changes } },
          },
        ],
      };
    }
    case 'move_activity': {
      const found = findActivity(trip, intent.activityId);
      if (!found) return fail('That activity no longer exists.');
      if (!findDay(trip, intent.toDayId)) return fail('The target day no longer exists.');
      if (found.day.dayId === intent.toDayId && !Number.isInteger(intent.toIndex)) return fail('The activity is already on that day.');
      return {
        ok: true,
        updates: [
          {
            updateType: 'activity_moved',
            data: { dayId: found.day.dayId, activityId: intent.activityId, toDayId: intent.toDayId, ...toIndexOf(intent) },
          },
        ],
      };
    }
    case 'remove_activity': {
      const found = findActivity(trip, intent.activityId);
      if (!found) return fail('That activity no longer exists.');
      return { ok: true, updates: [{ updateType: 'activity_removed', data: { dayId: found.day.dayId, activityId: intent.activityId } }] };
    }
    case 'add_constraint':
      if (!String(intent.constraint?.type ?? '').trim()) return fail('A constraint needs a type.');
      return { ok: true, updates: [{ updateType: 'constraint_added', data: { constraint: stripEmpty(intent.constraint, ['value']) } }] };
    case 'remove_constraint':
      if (!(trip.constraints || []).some((c) => c.constraintId === intent.constraintId)) return fail('That constraint no longer exists.');
      return { ok: true, updates: [{ updateType: 'constraint_removed', data: { constraintId: intent.constraintId } }] };
    case 'raw':
      return { ok: true, updates: [{ updateType: intent.updateType, data: intent.data }] };
    default:
      return fail(`Unknown change ${intent?.type}.`);
  }
}

function toIndexOf(intent) {
  return Number.isInteger(intent.toIndex) && intent.toIndex >= 0 ? { toIndex: intent.toIndex } : {};
}

function stripEmpty(obj, keep = []) {
  const out = {};
  for (const [k, v] of Object.entries(obj || {})) {
    if (!keep.includes(k) && (v === undefined || v === null || v === '')) continue;
    out[k] = v;
  }
  return out;
}

/** Words for what an intent will do, against the trip it is planned on. */
export function describeIntent(trip, intent) {
  switch (intent?.type) {
    case 'add_day':
      return `add ${dayWords(intent.day)}`;
    case 'remove_day':
      return `remove ${dayWords(findDay(trip, intent.dayId))}`;
    case 'add_activity':
      return `add ${q(intent.activity?.title)} to ${dayWords(findDay(trip, intent.dayId))}`;
    case 'update_activity': {
      const found = findActivity(trip, intent.activityId);
      const title = intent.original?.title ?? found?.activity.title ?? 'an activity';
      const c = intent.changes || {};
      if (typeof c.title === 'string' && Object.keys(c).length === 1) return `rename ${q(title)} to ${q(c.title)}`;
      return `change the ${fieldList(Object.keys(c))} of ${q(title)}`;
    }
    case 'move_activity': {
      const found = findActivity(trip, intent.activityId);
      const to = findDay(trip, intent.toDayId);
      return `move ${q(found?.activity.title ?? intent.title ?? 'an activity')} to ${to ? dayWords(to) : 'another day'}`;
    }
    case 'remove_activity': {
      const found = findActivity(trip, intent.activityId);
      return `remove ${q(found?.activity.title ?? intent.title ?? 'an activity')}`;
    }
    case 'add_constraint':
      return `add ${constraintPhrase(intent.constraint)}`;
    case 'remove_constraint':
      return `remove ${constraintPhrase((trip?.constraints || []).find((x) => x.constraintId === intent.constraintId))}`;
    case 'raw':
      return describeUpdate(trip, intent.updateType, intent.data);
    default:
      return 'change the trip';
  }
}

/**
 * May a queued update based on `fromVersion` be re-based to `toVersion`?
 * Only when every trip change in (fromVersion, toVersion] is known and was
 * made by this user: then the user's later edit already assumed them, and a
 * CONFLICT against one's own earlier change would be spurious.
 */
export function canRebase(room, selfId, fromVersion, toVersion) {
  if (fromVersion == null || toVersion == null || toVersion <= fromVersion) return false;
  if (room.historyFrom == null || fromVersion < room.historyFrom) return false;
  const between = room.history.filter((h) => h.version > fromVersion && h.version <= toVersion);
  return between.length > 0 && between.every((h) => h.userId === selfId);
}
