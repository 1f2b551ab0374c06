// Node tests of the conflict panel: which conflict shows, focus into the panel and back
// out of it, "Keep mine" re-planned on the latest version, "Keep theirs" let go.
import test from 'node:test';
import assert from 'node:assert/strict';

import { ConflictPanel, countText, focusBackIds } from './conflict-panel.js';

function element(name) {
  return { name, hidden: true, disabled: false, textContent: '', isConnected: true, children: [], replaceChildren(...nodes) { this.children = nodes; }, focus() { focused.at = this; } };
}
const focused = { at: null };

function panelFor({ tripId = 't1', version = 9, parts = {} } = {}) {
  const panel = element('panel');
  const els = { 'conflict-count': element('count'), 'conflict-body': element('body'), 'conflict-reapply': element('reapply'), ...parts };
  const submitted = [];
  const doc = { activeElement: element('title input'), body: element('body') };
  const deferred = [];
  const box = new ConflictPanel({
    panel,
    find: (testid) => els[testid] ?? null,
    view: (c) => ({ nodes: [`tried ${c.entry.summary}`], canReapply: c.entry.summary !== 'stale' }),
    submit: (intent, opts) => submitted.push([intent, opts]),
    tripId: () => tripId,
    version: () => version,
    fallback: () => els.dayList ?? element('day list'),
    doc,
    defer: (fn) => deferred.push(fn),
  });
  const settle = () => deferred.splice(0).forEach((fn) => fn());
  return { box, panel, els, submitted, doc, settle };
}

const conflict = (n, tripId = 't1', intent = { type: 'update_activity', activityId: 'a1' }) => ({
  id: `x${n}`, tripId, entry: { summary: `change ${n}`, intent }, details: { currentVersion: 7 },
});

test('the count and the items focus may go back to', () => {
  assert.equal(countText(1), '');
  assert.equal(countText(3), '1 of 3');
  assert.deepEqual(focusBackIds({ activityId: 'a1', dayId: 'd1' }), ['edit-activity-a1', 'remove-day-d1']);
  assert.deepEqual(focusBackIds(null), []);
});

test("the open trip's first conflict shows and takes focus; another trip's waits", () => {
  const { box, panel, els, doc } = panelFor();
  box.add(conflict(1, 'other-trip'));
  assert.equal(panel.hidden, true);
  const before = doc.activeElement;
  box.add(conflict(2));
  box.add(conflict(3));
  assert.equal(panel.hidden, false);
  assert.equal(focused.at, panel);
  assert.equal(box.focusBefore, before);
  assert.equal(els['conflict-count'].textContent, '1 of 2');
  assert.deepEqual(els['conflict-body'].children, ['tried change 2']);
});

test('Keep mine re-plans the change on the latest version; focus goes back once the last is resolved', () => {
  const { box, panel, submitted, doc, settle } = panelFor({ version: 9 });
  const before = doc.activeElement;
  box.add(conflict(1));
  box.add(conflict(2));
  box.resolve(true);
  assert.deepEqual(submitted, [[{ type: 'update_activity', activityId: 'a1' }, { baseVersion: 9 }]]);
  settle();
  assert.equal(focused.at, panel, 'one still waits: focus stays in the panel');
  box.resolve(false);
  assert.equal(submitted.length, 1, 'Keep theirs sends nothing');
  assert.equal(panel.hidden, true);
  settle();
  assert.equal(focused.at, before);
});

test('when what had focus was redrawn, focus goes to the item the conflict was about', () => {
  const details = element('details a1');
  const { box, doc, settle } = panelFor({ parts: { 'edit-activity-a1': details } });
  doc.activeElement.isConnected = false;
  box.add(conflict(1));
  box.resolve(false);
  settle();
  assert.equal(focused.at, details);
});

test('a conflict that can no longer be re-applied disables Keep mine; clearing hides the panel', () => {
  const { box, panel, els } = panelFor();
  box.add({ ...conflict(1), entry: { summary: 'stale', intent: {} } });
  assert.equal(els['conflict-reapply'].disabled, true);
  box.clear();
  assert.equal(panel.hidden, true);
  assert.deepEqual(box.conflicts, []);
});
