// Node tests of the page's pure helpers: money and constraints, checks,
// unsent edits, avatars, others' changes.  node --test static/js/
import test from 'node:test';
import assert from 'node:assert/strict';

import { constraintFromForm, constraintWords, readMoney, tripMoney, formatMoney } from './money.js';
import { timesProblem, dateProblem } from './rules.js';
import { pendingView, outboxToStore, outboxFromStore, LocalKeep } from './pending.js';
import { avatarLooks, nameOf } from './people.js';
import { othersChange, removalSize } from './changes.js';
import { Drafts } from './drafts.js';

const trip = {
  tripId: 't',
  version: 5,
  constraints: [
    { constraintId: 'c1', type: 'budget', value: { amount: 100, currency: 'EUR' } },
    { constraintId: 'c2', type: 'daily_budget', value: { amount: 40, currency: 'EUR' } },
  ],
  days: [
    { dayId: 'd1', date: '2026-05-01', title: 'Alfama', activities: [{ activityId: 'a1', title: 'Tram', cost: 3 }, { activityId: 'a2', title: 'Fado', cost: 45 }] },
    { dayId: 'd2', date: '2026-05-02', activities: [{ activityId: 'a3', title: 'Museum', cost: 12 }] },
  ],
};

test('totals per day and trip, a day over its limit, the trip within budget', () => {
  const money = tripMoney(trip);
  assert.equal(money.total, 60);
  assert.equal(money.currency, 'EUR');
  assert.deepEqual(money.days.d1, { total: 48, over: true });
  assert.deepEqual(money.days.d2, { total: 12, over: false });
  assert.equal(money.overTrip, false);
  assert.equal(money.share, 0.6);
});

test('the trip goes over budget once its costs pass it', () => {
  const dear = { ...trip, days: [...trip.days, { dayId: 'd3', date: '2026-05-03', activities: [{ activityId: 'a4', title: 'Dinner', cost: 41 }] }] };
  assert.equal(tripMoney(dear).overTrip, true);
});

test('older budget values still read: a bare number, "900 EUR"', () => {
  assert.deepEqual(readMoney(900), { amount: 900, currency: null });
  assert.deepEqual(readMoney('900 eur'), { amount: 900, currency: 'EUR' });
  assert.equal(readMoney('lots'), null);
  assert.equal(tripMoney({ constraints: [{ type: 'max_daily_cost', value: 50 }], days: [] }).dailyLimit, 50);
});

test('the constraint form makes typed values and refuses what is missing', () => {
  assert.deepEqual(constraintFromForm({ kind: 'budget', amount: '900', currency: 'GBP', description: ' per person ' }), {
    ok: true,
    constraint: { type: 'budget', value: { amount: 900, currency: 'GBP' }, description: 'per person' },
  });
  assert.equal(constraintFromForm({ kind: 'budget', amount: '-3' }).ok, false);
  assert.equal(constraintFromForm({ kind: 'budget', amount: '' }).ok, false);
  assert.deepEqual(constraintFromForm({ kind: 'dietary', dietary: ['vegan'] }).constraint, { type: 'dietary', value: ['vegan'] });
  assert.equal(constraintFromForm({ kind: 'dietary', dietary: [] }).ok, false);
  assert.deepEqual(constraintFromForm({ kind: 'pace', pace: 'relaxed' }).constraint, { type: 'pace', value: 'relaxed' });
  assert.equal(constraintFromForm({ kind: 'pace', pace: 'fast' }).ok, false);
  assert.equal(constraintFromForm({}).ok, false);
});

test('constraints read as words, not JSON', () => {
  assert.deepEqual(constraintWords(trip.constraints[0]), { label: 'Trip budget', text: formatMoney(100, 'EUR') });
  assert.match(formatMoney(100, 'EUR'), /€100/);
  assert.deepEqual(constraintWords({ type: 'pace', value: 'packed' }), { label: 'Pace', text: 'Packed' });
  assert.deepEqual(constraintWords({ type: 'must_see', value: ['Belém', 'Sintra'] }), { label: 'Must see', text: 'Belém, Sintra' });
  assert.deepEqual(constraintWords({ type: 'x', value: { max: 3 } }), { label: 'X', text: 'max: 3' });
});

test('an activity must end after it starts; two days may not share a date', () => {
  assert.equal(timesProblem('10:00', '11:00'), null);
  assert.equal(timesProblem('10:00', ''), null);
  assert.match(timesProblem('10:00', '09:30'), /before it starts/);
  assert.match(timesProblem('10:00', '10:00'), /before it starts/);
  assert.match(dateProblem(trip, '2026-05-01'), /already a day on 2026-05-01 \(Alfama\)/);
  assert.equal(dateProblem(trip, '2026-05-01', 'd1'), null);
  assert.equal(dateProblem(trip, '2026-05-09'), null);
});

const entry = (id, updateType, data, extra = {}) => ({ id, ref: `r-${id}`, tripId: 't', kind: 'trip', event: 'trip_update', payload: { tripId: 't', updateType, data }, ...extra });

test('unsent edits are drawn over the confirmed trip and marked', () => {
  const view = pendingView(trip, [
    entry('1', 'activity_added', { dayId: 'd2', activity: { activityId: 'a9', title: 'Pena Palace' } }),
    entry('2', 'activity_updated', { dayId: 'd1', activityId: 'a1', changes: { title: 'Tram 28' } }),
    entry('3', 'day_removed', { dayId: 'd1' }),
    { id: 'm', kind: 'chat', payload: { message: 'hi' } },
  ]);
  assert.deepEqual(view.marks, { a9: 'added', a1: 'changed', d1: 'removed' });
  assert.deepEqual(view.trip.days.map((d) => d.dayId), ['d2']);
  assert.deepEqual(view.trip.days[0].activities.map((a) => a.title), ['Museum', 'Pena Palace']);
  assert.equal(trip.days.length, 2, 'the confirmed trip is untouched');
});

test('the outbox survives storage: plain data out, ready to resend in', () => {
  const stored = JSON.parse(JSON.stringify(outboxToStore([{ ...entry('1', 'day_removed', { dayId: 'd1' }), sentOn: 4, sentAt: 99, everSent: true, notBefore: 7 }])));
  assert.equal('sentOn' in stored[0], false);
  const back = outboxFromStore([...stored, { junk: true }, null]);
  assert.equal(back.length, 1);
  assert.equal(back[0].ref, 'r-1');
  assert.equal(back[0].sentOn, null);
  assert.equal(back[0].notBefore, 0);
  assert.equal(back[0].everSent, true, 'a frame that may have landed keeps its ref, so a resend is idempotent');
});

test('LocalKeep keeps values per user and forgets empty ones', () => {
  const data = new Map();
  const storage = { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, v), removeItem: (k) => data.delete(k) };
  const keep = new LocalKeep(storage);
  keep.write('u1', 'drafts', { a: 'x' });
  assert.deepEqual(keep.read('u1', 'drafts'), { a: 'x' });
  assert.equal(keep.read('u2', 'drafts'), null);
  keep.write('u1', 'drafts', {});
  assert.equal(data.size, 0);
  assert.equal(new LocalKeep({ getItem: () => { throw new Error('denied'); } }).read('u', 'x', 5), 5);
});

test('drafts go back once per trip opened, so a field emptied by sending stays empty', () => {
  const data = new Map();
  const keep = new LocalKeep({ getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, v), removeItem: (k) => data.delete(k) });
  const drafts = new Drafts(keep);
  const fields = { 'chat-input': { value: '', dataset: { testid: 'chat-input' } }, 'add-activity-title-d1': { value: '', dataset: { testid: 'add-activity-title-d1' } } };
  const find = (id) => fields[id] ?? null;
  fields['chat-input'].value = 'See you at the tram';
  drafts.save('u1', 't1', fields['chat-input']);
  fields['add-activity-title-d1'].value = 'Fado';
  drafts.save('u1', 't1', fields['add-activity-title-d1']);
  for (const f of Object.values(fields)) f.value = ''; // a reload
  drafts.restoreOnce('u1', 't1', find);
  assert.equal(fields['chat-input'].value, 'See you at the tram');
  assert.equal(fields['add-activity-title-d1'].value, 'Fado');

  fields['chat-input'].value = ''; // sent, and the page redraws before the draft is forgotten
  drafts.restoreOnce('u1', 't1', find);
  assert.equal(fields['chat-input'].value, '', 'a redraw never puts sent text back');
  drafts.save('u1', 't1', fields['chat-input']);
  assert.deepEqual(keep.read('u1', Drafts.key('t1')), { 'add-activity-title-d1': 'Fado' });

  drafts.forgetRestored(); // the trip opened again
  fields['add-activity-title-d1'].value = '';
  drafts.restoreOnce('u1', 't1', find);
  assert.equal(fields['add-activity-title-d1'].value, 'Fado');
  assert.equal(fields['chat-input'].value, '');
});

test('two people with the same initials get different labels and colours', () => {
  const looks = avatarLooks([
    { userId: 'aaa1', name: 'Ana Silva' },
    { userId: 'aaa2', name: 'Ad Smith' },
    { userId: 'bbb3', name: 'Ben' },
  ]);
  assert.notEqual(looks.aaa1.label, looks.aaa2.label);
  assert.deepEqual([looks.aaa1.label, looks.aaa2.label], ['Ana', 'Ad']);
  assert.equal(looks.bbb3.label, 'BE');
  assert.equal(new Set(Object.values(looks).map((l) => l.color)).size, 3);
  assert.equal(nameOf('x', {}, null), 'Someone');
  assert.equal(nameOf('x', { x: 'Ada' }, 'x'), 'You');
});

test('a removal by someone else is announced with what it took', () => {
  const change = othersChange(trip, { userId: 'u2', updateType: 'day_removed', data: { dayId: 'd1' } }, { u2: 'Grace' }, 'u1');
  assert.equal(change.text, 'Grace removed Fri 1 May 2026 · Alfama · 2 activities');
  assert.equal(othersChange(trip, { userId: 'u1', updateType: 'day_removed', data: { dayId: 'd1' } }, {}, 'u1'), null);
  const edit = othersChange(trip, { userId: 'u2', updateType: 'activity_updated', data: { dayId: 'd1', activityId: 'a1', changes: { title: 'Tram 28' } } }, { u2: 'Grace' }, 'u1');
  assert.equal(edit.itemId, 'a1');
  assert.match(edit.text, /^Grace renamed “Tram” to “Tram 28”/);
  assert.equal(removalSize(trip, { type: 'remove_day', dayId: 'd1' }), 3);
  assert.equal(removalSize(trip, { type: 'remove_activity', activityId: 'a1' }), 1);
});

import { newActivity, activityChanges } from './rules.js';
import { viewingAfter, expired, viewersByItem, flashAfter, viewingDue, without } from './signals.js';

test('a new activity is read from the add form, times and cost checked', () => {
  assert.deepEqual(newActivity({ title: ' Tram ', startTime: '09:30', endTime: '', location: ' Graça ', cost: '3' }), {
    ok: true,
    activity: { title: 'Tram', startTime: '09:30', location: 'Graça', cost: 3 },
  });
  assert.equal(newActivity({ title: '' }).title, 'An activity needs a title');
  assert.equal(newActivity({ title: 'x', startTime: '10:00', endTime: '09:00' }).title, 'Check the times');
  assert.equal(newActivity({ title: 'x', cost: '-1' }).ok, false);
  assert.equal(newActivity({ title: 'x'.repeat(201) }).title, 'Title too long');
});

test('an edit changes only what differs, judged with the times the activity has', () => {
  const a = { activityId: 'a', title: 'Tram', startTime: '10:00', cost: 3 };
  assert.deepEqual(activityChanges(a, { title: 'Tram 28' }), { ok: true, changes: { title: 'Tram 28' } });
  assert.deepEqual(activityChanges(a, { title: 'Tram', startTime: '', endTime: '11:00', location: '', notes: '', cost: '3' }), {
    ok: true,
    changes: { endTime: '11:00' },
  });
  assert.equal(activityChanges(a, { title: 'Tram', startTime: '', endTime: '09:00', cost: '' }).title, 'Check the times');
});

test('who has what open: set, replaced, closed, forgotten after a while', () => {
  const opts = { selfId: 'me', now: 1000, ttlMs: 500 };
  let v = viewingAfter({}, { userId: 'u1', itemId: 'a1' }, opts);
  v = viewingAfter(v, { userId: 'u2', itemId: 'a1' }, opts);
  v = viewingAfter(v, { userId: 'me', itemId: 'a2' }, opts);
  assert.deepEqual(Object.keys(v).sort(), ['u1', 'u2']);
  assert.deepEqual(viewersByItem(v, { u1: 'Ada' }, {}).a1.map((x) => x.name), ['Ada', 'Someone']);
  v = viewingAfter(v, { userId: 'u2', itemId: null }, opts);
  assert.deepEqual(Object.keys(v), ['u1']);
  assert.equal(expired(v, 1400), v, 'nothing due: the same map (no re-render)');
  assert.deepEqual(expired(v, 1500), {});
  assert.equal(without(v, 'nobody'), v);
});

test('flashes and when to tell the room again', () => {
  const f = flashAfter({}, { itemId: 'a1', userId: 'u', who: 'Ada' }, { color: '#123', now: 0, ms: 10 });
  assert.deepEqual(f, { a1: { userId: 'u', who: 'Ada', color: '#123', until: 10 } });
  assert.equal(flashAfter(f, { itemId: null }, { color: '', now: 0, ms: 1 }), f);
  assert.equal(viewingDue({ itemId: null, sentAt: 0 }, null, 99, 10), false);
  assert.equal(viewingDue({ itemId: null, sentAt: 0 }, 'a1', 99, 10), true);
  assert.equal(viewingDue({ itemId: 'a1', sentAt: 95 }, 'a1', 99, 10), false);
  assert.equal(viewingDue({ itemId: 'a1', sentAt: 80 }, 'a1', 99, 10), true);
});

import { outboxEntries } from './pending.js';

test('a planned move becomes two chained outbox entries in one group', () => {
  let n = 0;
  const updates = [
    { updateType: 'activity_removed', data: { dayId: 'd1', activityId: 'a1' } },
    { updateType: 'activity_added', data: { dayId: 'd2', activity: { activityId: 'a1', title: 'Tram' } } },
  ];
  const intent = { type: 'move_activity', activityId: 'a1', toDayId: 'd2' };
  const [first, second] = outboxEntries('t', updates, { intent, baseVersion: 7, notBefore: 5, newRef: (p) => `${p}${++n}`, describe: (i) => i.type });
  assert.equal(first.baseVersion, 7);
  assert.equal(second.baseVersion, null);
  assert.equal(second.chainBase, true);
  assert.equal(first.group, second.group);
  assert.ok(first.group);
  assert.equal(first.intent, intent);
  assert.deepEqual(second.intent, { type: 'raw', ...updates[1] });
  assert.deepEqual(first.payload, { tripId: 't', ...updates[0] });
  assert.equal(first.notBefore, 5);
  assert.equal(outboxEntries('t', updates.slice(0, 1), { intent, baseVersion: 1, newRef: (p) => p, describe: () => '' })[0].group, null);
});

test('people changes are told by name, never by id', () => {
  const change = othersChange(trip, { userId: 'u2', updateType: 'collaborator_added', data: { userId: 'u3' } }, { u2: 'Grace', u3: 'Linus' }, 'u1');
  assert.equal(change.text, 'Grace invited Linus to the trip');
  const you = othersChange(trip, { userId: 'u2', updateType: 'collaborator_removed', data: { userId: 'u1' } }, { u2: 'Grace' }, 'u1');
  assert.equal(you.text, 'Grace removed you from the trip');
});
