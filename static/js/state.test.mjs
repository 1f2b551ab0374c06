// Unit tests of the pure reducers: node --test static/js/state.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';

import {
  createRoom,
  reduceRoom,
  applyTripUpdate,
  applyHistory,
  planUpdates,
  describeIntent,
  describeUpdate,
  describeConflictTypes,
  canRebase,
  typingUsers,
  typingText,
  sortDays,
  sortActivities,
  findActivity,
  leftUsers,
} from './state.js';
import { decodeJwt, describeToken, backoffDelay, newRef, newObjectId, parseConstraintValue, findBadKey, initials, colorFor } from './util.js';
import { UPDATE_TYPES, SERVER_UPDATE_TYPES } from './protocol.js';

const TRIP = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const ME = '111111111111111111111111';
const ANA = '222222222222222222222222';
const D1 = 'd00000000000000000000001';
const D2 = 'd00000000000000000000002';
const A1 = 'a00000000000000000000001';
const C1 = 'c00000000000000000000001';

const baseTrip = () => ({
  tripId: TRIP,
  title: 'Lisbon',
  ownerId: ME,
  collaborators: [ANA],
  days: [
    { dayId: D1, date: '2025-05-12', title: 'Arrival', activities: [{ activityId: A1, title: 'Tram 28', startTime: '10:00', cost: 3 }] },
    { dayId: D2, date: '2025-05-13', activities: [] },
  ],
  constraints: [{ constraintId: C1, type: 'budget', value: 1500 }],
  version: 10,
  updatedAt: '2025-01-01T00:00:00Z',
});

const joined = (seq = 12, members = [{ userId: ME, name: 'Me', status: 'online' }]) => ({
  event: 'trip_room_joined',
  data: { tripId: TRIP, members, seq, recovered: false },
});
const snapshot = (trip = baseTrip()) => ({ event: 'trip_updated', data: { tripId: TRIP, updateType: 'snapshot', trip, version: trip.version } });
const upd = (seq, updateType, data, userId = ANA, ref) => ({
  event: 'trip_updated',
  data: { tripId: TRIP, updateType, data, version: seq, seq, userId, timestamp: '2025-01-01T10:00:00Z' },
  ...(ref ? { ref } : {}),
});
const chat = (seq, messageId, message = 'hi', userId = ANA, extra = {}) => ({
  event: 'chat_message',
  data: { tripId: TRIP, messageId, userId, name: 'Ana', message, type: 'text', timestamp: '2025-01-01T10:00:00Z', seq, ...extra },
});

function fold(room, ...frames) {
  let info;
  for (const f of frames) ({ room, info } = reduceRoom(room, f, { now: 1000 }));
  return { room, info };
}

/** A loaded room: joined (head 12) then snapshot at version 10. */
function loaded() {
  return fold(createRoom(TRIP), joined(12), snapshot()).room;
}

// ------------------------------------------------------------------ join / snapshot

test('trip_room_joined sets members; the snapshot brings the trip and lastSeq = head', () => {
  let { room } = fold(createRoom(TRIP), joined(12));
  assert.equal(room.joined, true);
  assert.equal(room.pendingHead, 12);
  assert.equal(room.lastSeq, 0, 'head is not taken before the snapshot');
  assert.deepEqual(room.members.map((m) => m.userId), [ME]);
  ({ room } = fold(room, snapshot()));
  assert.equal(room.trip.title, 'Lisbon');
  assert.equal(room.trip.version, 10);
  assert.equal(room.lastSeq, 12, 'chat messages 11..12 are covered by REST history');
  assert.equal(room.pendingHead, null);
  assert.equal(room.historyFrom, 10);
});

test('a recovered join keeps lastSeq so the replayed events apply', () => {
  let room = loaded();
  room = fold(room, { event: 'trip_room_joined', data: { tripId: TRIP, members: [], seq: 14, recovered: true } }).room;
  assert.equal(room.lastSeq, 12);
  assert.equal(room.recovered, true);
  const r = fold(room, upd(13, 'day_removed', { dayId: D2 }), chat(14, 'm14'));
  assert.equal(r.room.lastSeq, 14);
  assert.equal(r.room.trip.days.length, 1);
  assert.equal(r.room.messages.length, 1);
});

test('a snapshot after a reconnect never moves lastSeq backwards and always applies', () => {
  let room = fold(loaded(), upd(13, 'day_removed', { dayId: D2 })).room;
  room = fold(room, joined(20), snapshot({ ...baseTrip(), version: 18, title: 'Lisbon v2' })).room;
  assert.equal(room.trip.title, 'Lisbon v2');
  assert.equal(room.lastSeq, 20);
  assert.equal(room.trip.days.length, 2, 'snapshot replaces the state wholesale');
});

test('events for another trip are ignored', () => {
  const room = loaded();
  const r = reduceRoom(room, { event: 'trip_updated', data: { tripId: 'bbbbbbbbbbbbbbbbbbbbbbbb', updateType: 'day_removed', data: { dayId: D1 }, seq: 13 } });
  assert.equal(r.room, room);
  assert.equal(r.info.ignored, true);
});

// ------------------------------------------------------------------ every updateType

test('there is a reducer case for every updateType in the contract', () => {
  const trip = loaded().trip;
  const samples = {
    day_added: { day: { dayId: 'd00000000000000000000003', date: '2025-05-14' } },
    day_removed: { dayId: D2 },
    activity_added: { dayId: D2, activity: { activityId: 'a00000000000000000000002', title: 'Belém' } },
    activity_updated: { dayId: D1, activityId: A1, changes: { title: 'Tram 28E' } },
    activity_removed: { dayId: D1, activityId: A1 },
    constraint_added: { constraint: { constraintId: 'c00000000000000000000002', type: 'pace', value: 'slow' } },
    constraint_removed: { constraintId: C1 },
    collaborator_added: { userId: '333333333333333333333333' },
    collaborator_removed: { userId: ANA },
  };
  for (const t of [...UPDATE_TYPES, ...SERVER_UPDATE_TYPES.filter((x) => x !== 'snapshot')]) {
    assert.ok(samples[t], `sample for ${t}`);
    const next = applyTripUpdate(trip, t, samples[t]);
    assert.notDeepEqual(next, trip, `${t} changes the trip`);
  }
});

test('day_added appends the day with an empty activity list; applying it twice does not duplicate', () => {
  const f = upd(13, 'day_added', { day: { dayId: 'd00000000000000000000003', date: '2025-05-11', title: 'Before' } });
  let { room, info } = fold(loaded(), f);
  assert.equal(info.applied, true);
  assert.equal(room.trip.days.length, 3);
  assert.deepEqual(room.trip.days[2].activities, []);
  assert.equal(room.trip.version, 13);
  assert.deepEqual(sortDays(room.trip.days).map((d) => d.date), ['2025-05-11', '2025-05-12', '2025-05-13']);
  const again = applyTripUpdate(room.trip, 'day_added', f.data.data);
  assert.equal(again.days.length, 3);
});

test('day_removed drops the day and its activities', () => {
  const { room } = fold(loaded(), upd(13, 'day_removed', { dayId: D1 }));
  assert.deepEqual(room.trip.days.map((d) => d.dayId), [D2]);
  assert.equal(findActivity(room.trip, A1), null);
});

test('activity_added adds to the named day, ignores a missing day', () => {
  const { room } = fold(loaded(), upd(13, 'activity_added', { dayId: D2, activity: { activityId: 'a00000000000000000000002', title: 'Belém', startTime: '09:00' } }));
  assert.deepEqual(room.trip.days[1].activities.map((a) => a.title), ['Belém']);
  const same = applyTripUpdate(room.trip, 'activity_added', { dayId: 'ffffffffffffffffffffffff', activity: { title: 'x' } });
  assert.equal(same, room.trip);
});

test('activity_updated merges changes, null removes a field', () => {
  const { room } = fold(loaded(), upd(13, 'activity_updated', { dayId: D1, activityId: A1, changes: { title: 'Tram 28E', location: 'Graça', cost: null } }));
  const a = room.trip.days[0].activities[0];
  assert.equal(a.title, 'Tram 28E');
  assert.equal(a.location, 'Graça');
  assert.equal('cost' in a, false);
  assert.equal(a.startTime, '10:00');
  assert.match(room.history.at(-1).summary, /renamed “Tram 28” to “Tram 28E”/);
});

test('activity_removed removes the activity', () => {
  const { room } = fold(loaded(), upd(13, 'activity_removed', { dayId: D1, activityId: A1 }));
  assert.equal(room.trip.days[0].activities.length, 0);
});

test('a move (activity_removed + activity_added with the same id) leaves one copy on the new day', () => {
  const a = baseTrip().days[0].activities[0];
  const { room } = fold(loaded(), upd(13, 'activity_removed', { dayId: D1, activityId: A1 }), upd(14, 'activity_added', { dayId: D2, activity: a }));
  assert.equal(room.trip.days[0].activities.length, 0);
  assert.deepEqual(room.trip.days[1].activities.map((x) => x.activityId), [A1]);
  // Applied in the other order (or the add alone) there is still just one copy.
  const t = applyTripUpdate(loaded().trip, 'activity_added', { dayId: D2, activity: a });
  assert.equal(t.days.flatMap((d) => d.activities).filter((x) => x.activityId === A1).length, 1);
});

test('constraint_added and constraint_removed', () => {
  let { room } = fold(loaded(), upd(13, 'constraint_added', { constraint: { constraintId: 'c00000000000000000000002', type: 'dietary', value: ['vegetarian'], description: 'Ana' } }));
  assert.deepEqual(room.trip.constraints.map((c) => c.type), ['budget', 'dietary']);
  ({ room } = fold(room, upd(14, 'constraint_removed', { constraintId: C1 })));
  assert.deepEqual(room.trip.constraints.map((c) => c.type), ['dietary']);
  assert.equal(room.trip.version, 14);
});

test('collaborator_added and collaborator_removed', () => {
  const U3 = '333333333333333333333333';
  let { room } = fold(loaded(), upd(13, 'collaborator_added', { userId: U3 }));
  assert.deepEqual(room.trip.collaborators, [ANA, U3]);
  ({ room } = fold(room, upd(14, 'collaborator_added', { userId: U3 })));
  assert.deepEqual(room.trip.collaborators, [ANA, U3], 'no duplicates');
  ({ room } = fold(room, upd(15, 'collaborator_removed', { userId: ANA })));
  assert.deepEqual(room.trip.collaborators, [U3]);
});

test('an unknown updateType only advances the version', () => {
  const before = loaded();
  const { room } = fold(before, upd(13, 'trip_renamed_someday', { title: 'x' }));
  assert.deepEqual(room.trip.days, before.trip.days);
  assert.equal(room.trip.version, 13);
});

test('reducers do not mutate their input', () => {
  const room = loaded();
  const frozen = JSON.stringify(room);
  fold(room, upd(13, 'activity_updated', { dayId: D1, activityId: A1, changes: { title: 'X' } }), upd(14, 'day_removed', { dayId: D2 }), chat(15, 'm1'));
  assert.equal(JSON.stringify(room), frozen);
});

// ------------------------------------------------------------------ seq de-duplication

test('trip_updated with seq <= lastSeq is dropped as a duplicate', () => {
  const r1 = fold(loaded(), upd(13, 'day_removed', { dayId: D2 }));
  const r2 = reduceRoom(r1.room, upd(13, 'day_removed', { dayId: D2 }));
  assert.equal(r2.info.duplicate, true);
  assert.equal(r2.room, r1.room);
  const r3 = reduceRoom(r1.room, upd(5, 'day_added', { day: { dayId: 'x', date: '2025-01-01' } }));
  assert.equal(r3.info.duplicate, true);
  assert.equal(r3.room.trip.days.length, 1);
});

test('a replay after reconnect applies an activity once, never twice', () => {
  const add = upd(13, 'activity_added', { dayId: D2, activity: { activityId: 'a00000000000000000000009', title: 'Fado' } }, ME, 'c-abc');
  const { room } = fold(loaded(), add, add, { ...add, ref: undefined });
  assert.equal(room.trip.days[1].activities.length, 1);
  assert.equal(room.history.length, 1);
});

test('version is used as seq when seq is absent', () => {
  const f = upd(13, 'day_removed', { dayId: D2 });
  delete f.data.seq;
  const { room } = fold(loaded(), f, f);
  assert.equal(room.lastSeq, 13);
  assert.equal(room.history.length, 1);
});

test('a chat message moves the trip version to its seq (the stream head)', () => {
  const { room } = fold(loaded(), chat(13, 'm1'));
  assert.equal(room.trip.version, 13);
  assert.equal(room.history.length, 0, 'chat is not a trip change');
  assert.equal(fold(room, upd(14, 'day_removed', { dayId: D2 })).room.trip.version, 14);
});

test('chat_message de-duplicates by seq and by messageId', () => {
  let { room } = fold(loaded(), chat(13, 'm1'), chat(13, 'm1'), chat(14, 'm2'));
  assert.deepEqual(room.messages.map((m) => m.messageId), ['m1', 'm2']);
  assert.equal(room.lastSeq, 14);
  // History from REST followed by the same message live: one copy, lastSeq advanced.
  room = applyHistory(room, [{ messageId: 'm3', userId: ANA, message: 'yo', type: 'text', timestamp: '2025-01-01T10:01:00Z', seq: 15 }]);
  ({ room } = fold(room, chat(15, 'm3', 'yo')));
  assert.equal(room.messages.filter((m) => m.messageId === 'm3').length, 1);
  assert.equal(room.lastSeq, 15);
});

test('a seq gap is reported (and still applied)', () => {
  const { room, info } = fold(loaded(), upd(16, 'day_removed', { dayId: D2 }));
  assert.equal(info.gap, true);
  assert.equal(room.lastSeq, 16);
  assert.equal(room.historyFrom, 16, 'history before a gap is not trusted for re-basing');
  assert.equal(fold(loaded(), chat(13, 'm'), upd(14, 'day_removed', { dayId: D2 })).info.gap, false);
});

test('stream events before any snapshot are not applied and do not move lastSeq', () => {
  const { room, info } = fold(createRoom(TRIP), upd(3, 'day_removed', { dayId: D2 }));
  assert.equal(info.noTrip, true);
  assert.equal(room.lastSeq, 0);
});

// ------------------------------------------------------------------ chat + presence

test('chat history merges, orders by seq and flags older pages', () => {
  let room = loaded();
  const page = Array.from({ length: 50 }, (_, i) => ({ messageId: `m${i + 100}`, userId: ANA, message: `#${i}`, type: 'text', timestamp: `2025-01-01T09:${String(i).padStart(2, '0')}:00Z`, seq: i + 1 }));
  room = applyHistory(room, page.slice(25), { limit: 50 });
  assert.equal(room.hasOlderMessages, false);
  room = applyHistory(room, page.slice(0, 25), { limit: 25, older: true });
  assert.equal(room.hasOlderMessages, true);
  assert.equal(room.messages.length, 50);
  assert.equal(room.messages[0].messageId, 'm100');
  assert.equal(room.messages.at(-1).messageId, 'm149');
});

test('members: joined, left, presence; typing set and cleared by a chat message', () => {
  let { room } = fold(
    loaded(),
    { event: 'user_joined', data: { tripId: TRIP, userId: ANA, name: 'Ana', timestamp: 'x' } },
    { event: 'user_presence_updated', data: { tripId: TRIP, userId: ANA, status: 'busy' } },
    { event: 'user_typing', data: { tripId: TRIP, userId: ANA, isTyping: true } },
  );
  assert.deepEqual(room.members.map((m) => [m.userId, m.status]), [[ME, 'online'], [ANA, 'busy']]);
  assert.equal(room.names[ANA], 'Ana');
  assert.deepEqual(typingUsers(room, 2000, ME), [ANA]);
  assert.deepEqual(typingUsers(room, 1000 + 7000, ME), [], 'expires locally too');
  assert.equal(typingText(['Ana']), 'Ana is typing…');
  assert.equal(typingText(['Ana', 'Bo']), 'Ana and Bo are typing…');
  ({ room } = fold(room, chat(13, 'm1')));
  assert.deepEqual(typingUsers(room, 2000, ME), []);
  ({ room } = fold(room, { event: 'user_typing', data: { tripId: TRIP, userId: ANA, isTyping: 'yes' } }));
  assert.deepEqual(typingUsers(room, 2000, ME), [], 'only a boolean true means typing');
  ({ room } = fold(room, { event: 'user_left', data: { tripId: TRIP, userId: ANA, timestamp: 'x' } }));
  assert.deepEqual(room.members.map((m) => m.userId), [ME]);
});

test('presence_summary: each user\'s net change applied, never dropping the member list\'s own user', () => {
  let { room } = fold(loaded(), { event: 'user_joined', data: { tripId: TRIP, userId: ANA, name: 'Ana', timestamp: 'x' } });
  const summary = {
    event: 'presence_summary',
    data: {
      tripId: TRIP,
      joined: [{ userId: 'u-bo', name: 'Bo', timestamp: 'y' }],
      left: [{ userId: ANA, timestamp: 'y' }, { userId: ME, timestamp: 'y' }],
      joinedCount: 1,
      leftCount: 2,
    },
  };
  ({ room } = reduceRoom(room, summary, { now: 1000, selfId: ME }));
  assert.deepEqual(room.members.map((m) => m.userId), [ME, 'u-bo']);
  assert.equal(room.names['u-bo'], 'Bo');
});

test('trip_room_left with access_revoked marks the room', () => {
  const { room, info } = fold(loaded(), { event: 'trip_room_left', data: { tripId: TRIP, reason: 'access_revoked' } });
  assert.equal(info.revoked, true);
  assert.equal(room.joined, false);
  assert.equal(room.revoked, true);
});

// ------------------------------------------------------------------ planning

test('planUpdates builds every client updateType', () => {
  const trip = loaded().trip;
  const cases = [
    [{ type: 'add_day', day: { date: '2025-05-14', title: '' } }, ['day_added'], (u) => assert.deepEqual(u[0].data, { day: { date: '2025-05-14' } })],
    [{ type: 'remove_day', dayId: D2 }, ['day_removed']],
    [{ type: 'add_activity', dayId: D2, activity: { title: 'Fado', startTime: '21:00', location: '' } }, ['activity_added'], (u) => assert.deepEqual(u[0].data.activity, { title: 'Fado', startTime: '21:00' })],
    [{ type: 'update_activity', activityId: A1, changes: { title: 'X' } }, ['activity_updated'], (u) => assert.equal(u[0].data.dayId, D1)],
    [{ type: 'move_activity', activityId: A1, toDayId: D2 }, ['activity_moved'], (u) => {
      assert.deepEqual(u[0].data, { dayId: D1, activityId: A1, toDayId: D2 }); // one change: never gone in between
    }],
    [{ type: 'remove_activity', activityId: A1 }, ['activity_removed']],
    [{ type: 'add_constraint', constraint: { type: 'budget', value: 0 } }, ['constraint_added'], (u) => assert.equal(u[0].data.constraint.value, 0)],
    [{ type: 'remove_constraint', constraintId: C1 }, ['constraint_removed']],
  ];
  for (const [intent, types, check] of cases) {
    const plan = planUpdates(trip, intent);
    assert.equal(plan.ok, true, `${intent.type}: ${plan.error}`);
    assert.deepEqual(plan.updates.map((u) => u.updateType), types);
    check?.(plan.updates);
    assert.ok(describeIntent(trip, intent).length > 3);
  }
});

test('planUpdates refuses intents that no longer fit the trip', () => {
  const trip = fold(loaded(), upd(13, 'activity_removed', { dayId: D1, activityId: A1 })).room.trip;
  assert.equal(planUpdates(trip, { type: 'update_activity', activityId: A1, changes: { title: 'x' } }).ok, false);
  assert.equal(planUpdates(trip, { type: 'move_activity', activityId: A1, toDayId: D2 }).ok, false);
  assert.equal(planUpdates(trip, { type: 'remove_day', dayId: 'ffffffffffffffffffffffff' }).ok, false);
  assert.equal(planUpdates(trip, { type: 'add_day', day: { date: 'tomorrow' } }).ok, false);
  assert.equal(planUpdates(null, { type: 'add_day', day: { date: '2025-01-01' } }).ok, false);
});

test('an update re-planned after someone moved the activity targets its new day', () => {
  const a = baseTrip().days[0].activities[0];
  const trip = fold(loaded(), upd(13, 'activity_removed', { dayId: D1, activityId: A1 }), upd(14, 'activity_added', { dayId: D2, activity: a })).room.trip;
  const plan = planUpdates(trip, { type: 'update_activity', activityId: A1, changes: { title: 'Tram' } });
  assert.equal(plan.updates[0].data.dayId, D2);
});

test('canRebase only over the user’s own changes with known history', () => {
  const room = fold(loaded(), upd(13, 'day_added', { day: { dayId: 'x1', date: '2025-06-01' } }, ME), upd(14, 'day_added', { day: { dayId: 'x2', date: '2025-06-02' } }, ANA)).room;
  assert.equal(canRebase(room, ME, 10, 13), true);
  assert.equal(canRebase(room, ME, 10, 14), false, 'Ana changed something in between');
  assert.equal(canRebase(room, ME, 9, 13), false, 'before the snapshot: unknown');
  assert.equal(canRebase(room, ME, 13, 13), false);
});

test('descriptions for conflicts read well', () => {
  const trip = loaded().trip;
  assert.equal(describeUpdate(trip, 'activity_removed', { dayId: D1, activityId: A1 }), 'removed “Tram 28”');
  assert.equal(describeUpdate(trip, 'constraint_removed', { constraintId: C1 }), 'removed the trip budget of 1,500');
  assert.deepEqual(describeConflictTypes(['activity_updated', 'activity_removed']), ['the activity was edited', 'the activity was removed']);
  assert.equal(sortActivities([{ title: 'b' }, { title: 'a', startTime: '08:00' }])[0].title, 'a');
});

// ------------------------------------------------------------------ util

test('decodeJwt reads base64url payloads with UTF-8 names', () => {
  const payload = { sub: ME, role: 'admin', name: 'Zoë Ångström', exp: 4102444800 };
  const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const token = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u(payload)}.sig`;
  assert.deepEqual(decodeJwt(token), payload);
  const info = describeToken(token, 0);
  assert.equal(info.isAdmin, true);
  assert.equal(info.name, 'Zoë Ångström');
  assert.equal(info.validSub, true);
  assert.equal(describeToken(token, 4102444800 * 1000 + 1).expired, true);
  assert.equal(describeToken(`${b64u({})}.${b64u({ sub: ME })}.x`).role, 'user');
  assert.throws(() => decodeJwt('nope'), /JWT/);
  assert.throws(() => decodeJwt('a.!!!.c'), /base64url/);
});

test('back-off doubles, has jitter and is capped at 10 s', () => {
  assert.equal(backoffDelay(1, { random: () => 0 }), 250);
  assert.equal(backoffDelay(1, { random: () => 1 }), 500);
  assert.equal(backoffDelay(3, { random: () => 1 }), 2000);
  assert.equal(backoffDelay(20, { random: () => 1 }), 10000);
  assert.ok(backoffDelay(20, { random: () => 0 }) >= 5000);
});

test('refs, ids and values', () => {
  const refs = new Set(Array.from({ length: 200 }, () => newRef('c')));
  assert.equal(refs.size, 200);
  for (const r of refs) assert.match(r, /^c-[0-9a-z]{16}$/);
  assert.match(newObjectId(), /^[0-9a-f]{24}$/);
  assert.equal(parseConstraintValue('1500'), 1500);
  assert.equal(parseConstraintValue('vegetarian'), 'vegetarian');
  assert.deepEqual(parseConstraintValue('["a"]'), ['a']);
  assert.equal(findBadKey({ a: { $where: 1 } }), 'a.$where');
  assert.equal(findBadKey({ 'a.b': 1 }), 'a.b');
  assert.equal(findBadKey({ ok: [1, { fine: true }] }), null);
  assert.equal(initials('Ana Maria Silva'), 'AS');
  assert.equal(initials('', 'abcdef'), 'EF');
  assert.equal(colorFor(ME), colorFor(ME));
});

test('what changed reads in plain words: no field codes, ids, JSON or raw update types', () => {
  const trip = {
    ...loaded().trip,
    constraints: [{ constraintId: 'c9', type: 'daily_budget', value: { amount: 40, currency: 'EUR' } }],
    days: [{ dayId: 'd9', date: '2026-05-01', title: 'Alfama', activities: [{ activityId: 'a9', title: 'Tram 28' }] }],
  };
  const said = [
    describeUpdate(trip, 'activity_updated', { dayId: 'd9', activityId: 'a9', changes: { startTime: '09:00', endTime: '10:00', cost: 3 } }),
    describeUpdate(trip, 'constraint_added', { constraint: { constraintId: 'c8', type: 'budget', value: { amount: 900, currency: 'EUR' } } }),
    describeUpdate(trip, 'constraint_removed', { constraintId: 'c9' }),
    describeUpdate(trip, 'day_removed', { dayId: 'd9' }),
    describeUpdate(trip, 'day_removed', { dayId: '665f00000000000000000d99' }),
    describeUpdate(trip, 'day_updated', { dayId: 'd9', changes: { date: '2026-05-03' } }),
    describeUpdate(trip, 'constraint_updated', { constraintId: 'c9', changes: { value: { amount: 50, currency: 'EUR' } } }),
    describeUpdate(trip, 'itinerary_reshuffled', {}),
    describeIntent(trip, { type: 'add_constraint', constraint: { type: 'dietary', value: ['vegan'] } }),
    describeIntent(trip, { type: 'update_activity', activityId: 'a9', changes: { endTime: '11:00' } }),
    describeIntent(trip, { type: 'remove_day', dayId: 'd9' }),
  ];
  assert.deepEqual(said, [
    'changed the start time, end time and cost of “Tram 28”',
    'added the trip budget of €900.00',
    'removed the daily spending limit of €40.00',
    'removed Fri 1 May 2026 “Alfama”',
    'removed a day',
    'changed Fri 1 May 2026 “Alfama”: moved it to Sun 3 May 2026',
    'changed the value of the daily spending limit of €40.00',
    'changed the trip',
    'add dietary needs: vegan',
    'change the end time of “Tram 28”',
    'remove Fri 1 May 2026 “Alfama”',
  ]);
  for (const text of said) assert.doesNotMatch(text, /[a-z][A-Z]|[0-9a-f]{24}|[{}=_]|\bv\d+\b/, text);
});

test("a server's refusal reads in plain words", async () => {
  const { plainText, detailsWords } = await import('./words.js');
  assert.equal(plainText('activity.endTime: must be after startTime (09:00)'), 'end time: must be after start time (09:00)');
  assert.equal(plainText('two days may not share the date 2026-05-01. Pick another.'), 'two days may not share the date 2026-05-01. Pick another.');
  assert.equal(detailsWords({ 'changes.endTime': ['must be after startTime (09:00)'], title: 'too long' }), 'end time: must be after start time (09:00); title: too long');
});

test('leftUsers names who a presence frame says has left: one for user_left, the left list of a summary, nobody otherwise', () => {
  assert.deepEqual(leftUsers({ event: 'user_left', data: { userId: 'u1' } }), ['u1']);
  assert.deepEqual(leftUsers({ event: 'user_left', data: {} }), []);
  assert.deepEqual(
    leftUsers({ event: 'presence_summary', data: { left: [{ userId: 'u2' }, null, { userId: 'u3' }], joined: [{ userId: 'u4' }] } }),
    ['u2', 'u3'],
  );
  assert.deepEqual(leftUsers({ event: 'presence_summary', data: { joined: [{ userId: 'u4' }] } }), []);
  assert.deepEqual(leftUsers({ event: 'user_joined', data: { userId: 'u5' } }), []);
});
