// node --test static/js/collab.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { applyCollabUpdate, describeCollabUpdate, replacedOfMine, replacedWords, undoKeyOf, historyLine, changeNotificationText } from './collab.js';
import { applyTripUpdate } from './state.js';

const ANA = 'a'.repeat(24);
const BEN = 'b'.repeat(24);
const trip = () => ({
  tripId: 't',
  days: [
    { dayId: 'd1', date: '2026-12-04', activities: [{ activityId: 'x', title: 'Tram' }, { activityId: 'y', title: 'Cafe' }] },
    { dayId: 'd2', date: '2026-12-05', activities: [{ activityId: 'z', title: 'Beach' }] },
  ],
  constraints: [{ constraintId: 'c', type: 'pace', value: 1, description: 'easy' }],
});

test('activity_moved takes one activity to its place in another day, in one step', () => {
  const after = applyTripUpdate(trip(), 'activity_moved', { dayId: 'd1', activityId: 'x', toDayId: 'd2', toIndex: 0 });
  assert.deepEqual(after.days[0].activities.map((a) => a.activityId), ['y']);
  assert.deepEqual(after.days[1].activities.map((a) => a.activityId), ['x', 'z']);
  const reordered = applyTripUpdate(trip(), 'activity_moved', { dayId: 'd1', activityId: 'y', toDayId: 'd1', toIndex: 0 });
  assert.deepEqual(reordered.days[0].activities.map((a) => a.activityId), ['y', 'x']);
});

test('day_updated renames and re-dates a day and keeps the days in date order', () => {
  const after = applyTripUpdate(trip(), 'day_updated', { dayId: 'd1', changes: { title: 'Arrival', date: '2026-12-09' } });
  assert.deepEqual(after.days.map((d) => [d.dayId, d.date, d.title]), [['d2', '2026-12-05', undefined], ['d1', '2026-12-09', 'Arrival']]);
});

test('constraint_updated sets a null value but unsets a null description', () => {
  const after = applyTripUpdate(trip(), 'constraint_updated', { constraintId: 'c', changes: { value: null, description: null } });
  assert.deepEqual(after.constraints[0], { constraintId: 'c', type: 'pace', value: null });
});

test('trip_restored replaces the days and constraints', () => {
  const restored = applyTripUpdate(trip(), 'trip_restored', { toVersion: 3, days: [{ dayId: 'd9', date: '2026-12-01', activities: [] }], constraints: [] });
  assert.deepEqual(restored.days.map((d) => d.dayId), ['d9']);
  assert.equal(applyCollabUpdate(trip(), 'day_added', {}), null); // not one of ours
});

test('a change that replaced my value says so and carries the update that restores it', () => {
  const data = { dayId: 'd1', activityId: 'x', changes: { title: 'Tram 15' }, replaced: { title: { value: 'Tram 28', by: ANA, version: 4 }, notes: { by: BEN, version: 2, value: 'n' } } };
  const mine = replacedOfMine('activity_updated', data, ANA);
  assert.equal(mine.length, 1);
  assert.deepEqual(mine[0].restore, { updateType: 'activity_updated', data: { dayId: 'd1', activityId: 'x', changes: { title: 'Tram 28' } } });
  assert.deepEqual(replacedWords('Ben', mine), ['Ben changed the title from “Tram 28” to “Tram 15”']);
  assert.deepEqual(replacedOfMine('activity_updated', data, 'nobody'), []);
});

test('Ctrl+Z undoes and Ctrl+Shift+Z redoes, but not while typing', () => {
  const body = { tagName: 'BODY' };
  assert.equal(undoKeyOf({ ctrlKey: true, key: 'z', target: body }), 'undo');
  assert.equal(undoKeyOf({ metaKey: true, shiftKey: true, key: 'Z', target: body }), 'redo');
  assert.equal(undoKeyOf({ ctrlKey: true, key: 'y', target: body }), 'redo');
  assert.equal(undoKeyOf({ ctrlKey: true, key: 'z', target: { tagName: 'INPUT' } }), null);
  assert.equal(undoKeyOf({ key: 'z', target: body }), null);
});

test('history lines and descriptions name the change', () => {
  assert.equal(historyLine({ version: 7, updateType: 'trip_restored', data: { toVersion: 2 } }, 'Ben'), 'Ben restored an earlier version of the plan');
  assert.equal(historyLine({ version: 8, updateType: 'activity_updated', data: { undoes: 6 } }, 'Ana'), 'Ana edited an activity (undo)');
  assert.equal(describeCollabUpdate(trip(), 'activity_moved', { dayId: 'd1', activityId: 'x', toDayId: 'd2' }), 'moved “Tram” to Sat 5 Dec 2026');
});

test('a drop lands before the activity it is dropped on, or last in the day', async () => {
  const { dropIndex } = await import('./drag.js');
  const t = trip();
  assert.equal(dropIndex(t, 'z', 'd1', 'y'), 1);
  assert.equal(dropIndex(t, 'z', 'd1', null), 2);
  assert.equal(dropIndex(t, 'x', 'd1', 'y'), 0); // within its own day: counted without itself
  assert.equal(dropIndex(t, 'x', 'nowhere', null), null);
});

test('an editor whose activity was removed keeps what was typed in it', async () => {
  const { editedCopy } = await import('./collab-page.js');
  const typed = { title: 'Lunch at Time Out ', notes: 'book a table', location: '', start: undefined };
  const copy = editedCopy({ activityId: 'x', original: { activityId: 'x', title: 'Lunch', cost: 12 } }, (f) => typed[f]);
  assert.deepEqual(copy, { title: 'Lunch at Time Out', notes: 'book a table', cost: 12 });
});

test('a change_replaced notification says who changed which of my values, from what to what', () => {
  const n = {
    kind: 'change_replaced', fromName: 'Ben', updateType: 'activity_updated',
    changes: [{ itemId: 'x', field: 'title', from: 'Tram 28', to: 'Tram 15', yourVersion: 2 }, { itemId: 'x', field: 'notes', from: 'front', yourVersion: 2 }],
  };
  assert.deepEqual(changeNotificationText(n), {
    title: 'Ben changed what you set',
    body: 'changed the title from “Tram 28” to “Tram 15”; changed the notes from “front” to nothing',
  });
  const restored = changeNotificationText({ reverts: 'restore', changes: [{ field: 'title', from: 'A', removed: true }], more: 3 });
  assert.equal(restored.title, 'Someone changed what you set (restoring an earlier version)');
  assert.equal(restored.body, 'removed the title “A”; and 3 more');
});

test('history lines name what changed from the change itself and the trip now', () => {
  const now = { days: [{ dayId: 'd1', date: '2026-05-01', title: 'Alfama', activities: [{ activityId: 'a1', title: 'Tram 28 to Graça' }] }] };
  const line = (updateType, data) => historyLine({ version: 3, updateType, data }, 'Ana', now);
  assert.equal(line('activity_added', { dayId: 'd1', activity: { activityId: 'a2', title: 'Fado' } }), 'Ana added “Fado” to Fri 1 May 2026 “Alfama”');
  assert.equal(line('activity_updated', { dayId: 'd1', activityId: 'a1', changes: { title: 'Tram 28 to Graça' }, replaced: { title: { value: 'Tram 28' } } }), 'Ana renamed “Tram 28” to “Tram 28 to Graça”');
  assert.equal(line('activity_updated', { dayId: 'd1', activityId: 'a1', changes: { startTime: '09:00' } }), 'Ana changed the start time of “Tram 28 to Graça”');
  assert.equal(line('day_added', { day: { dayId: 'd2', date: '2026-05-02' } }), 'Ana added Sat 2 May 2026');
  assert.equal(line('constraint_added', { constraint: { type: 'budget', value: { amount: 900, currency: 'EUR' } } }), 'Ana added the trip budget of €900.00');
  assert.equal(line('day_removed', { dayId: 'd9' }), 'Ana removed a day');
  assert.equal(line('something_new', {}), 'Ana changed the trip');
});
