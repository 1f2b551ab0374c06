// Node tests of the connection as people see it: the pill's words, the offline
// banner, why and when it reconnects, and the banners that wait for the person.
import test from 'node:test';
import assert from 'node:assert/strict';

import { ConnectionView, SESSION_BANNERS, reconnectWords } from './connection-view.js';
import { CloseCode } from './protocol.js';

function view() {
  const els = {};
  const find = (testid) => (els[testid] ||= { hidden: true, textContent: '', dataset: {}, onclick: null });
  return { conn: new ConnectionView(find), els };
}

test('why and when it reconnects, and what waits on this device', () => {
  assert.equal(reconnectWords(CloseCode.GOING_AWAY, 3, 2), 'The server is restarting. Reconnecting in 3s… 2 changes not synced yet, kept on this device.');
  assert.equal(reconnectWords(1006, 0, 1), 'Connection lost. Reconnecting… 1 change not synced yet, kept on this device.');
  assert.equal(reconnectWords(CloseCode.POLICY, 0, 0), 'Too many messages. Reconnecting…');
});

test('the pill says offline, in words, whenever the browser or the heartbeat says so, until connected', () => {
  const { conn, els } = view();
  conn.reconnecting('Connection lost. Reconnecting…');
  conn.status('reconnecting', 'reconnecting', true);
  assert.equal(els['connection-status'].textContent, 'offline');
  assert.equal(els['connection-status'].dataset.state, 'offline');
  assert.equal(els['offline-banner'].hidden, false);
  assert.equal(els['reconnect-banner'].hidden, true, 'offline says it all: no second banner');
  conn.status('connected', 'connected', true);
  assert.equal(els['connection-status'].textContent, 'connected');
  assert.equal(els['offline-banner'].hidden, true);
  conn.status('offline', 'kicked', false);
  assert.equal(els['connection-status'].textContent, 'offline');
  assert.equal(els['connection-status'].dataset.state, 'kicked');
});

test('a connection that waits for the person says why, and its button does what it says', () => {
  const { conn, els } = view();
  conn.reconnecting('Connection lost. Reconnecting…');
  assert.equal(conn.isReconnecting, true);
  let pressed = 0;
  conn.session('expired', () => (pressed += 1));
  assert.equal(conn.isReconnecting, false);
  assert.equal(els['session-banner'].hidden, false);
  assert.equal(els['session-text'].textContent, SESSION_BANNERS.expired.text);
  assert.equal(els['session-action'].textContent, 'Sign in again');
  els['session-action'].onclick();
  assert.equal(pressed, 1);
  conn.clearSession();
  assert.equal(els['session-banner'].hidden, true);
  for (const why of ['kicked', 'replaced']) {
    conn.session(why, () => {});
    assert.equal(els['session-action'].textContent, SESSION_BANNERS[why].action);
  }
});
