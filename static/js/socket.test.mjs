// Unit tests of the outbox and the reconnecting socket:
// node --test static/js/socket.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';

import { Outbox, ReconnectingSocket } from './socket.js';
import { Connectivity } from './connectivity.js';

const T1 = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const T2 = 'bbbbbbbbbbbbbbbbbbbbbbbb';

function trip(ref, extra = {}) {
  return { id: `u-${ref}`, ref, event: 'trip_update', tripId: T1, kind: 'trip', payload: { tripId: T1, updateType: 'day_removed', data: { dayId: 'd' } }, baseVersion: 10, ...extra };
}
function chat(ref, tripId = T1) {
  return { id: `m-${ref}`, ref, event: 'chat_message', tripId, kind: 'chat', payload: { tripId, message: ref } };
}
const ready = (...ids) => (tripId) => ids.includes(tripId);

test('offline entries are sent once per connection, with the same ref after a drop', () => {
  const box = new Outbox();
  box.add(chat('c-1'));
  box.add(trip('c-2'));
  assert.deepEqual(box.takeSendable(1, ready()), [], 'room not joined: nothing goes out');
  const first = box.takeSendable(1, ready(T1));
  assert.deepEqual(first.map((e) => e.ref), ['c-1', 'c-2']);
  assert.deepEqual(box.takeSendable(1, ready(T1)), [], 'not twice on the same connection');
  // The connection drops before any answer; on connection 2 the same refs go again.
  const again = box.takeSendable(2, ready(T1));
  assert.deepEqual(again.map((e) => e.ref), ['c-1', 'c-2']);
  assert.deepEqual(Outbox.frameOf(again[1]), { event: 'trip_update', data: { tripId: T1, updateType: 'day_removed', data: { dayId: 'd' }, baseVersion: 10 }, ref: 'c-2' });
  assert.equal(box.ack('c-1').id, 'm-c-1');
  assert.equal(box.ack('c-1'), null, 'a second answer for the same ref is ignored');
  assert.equal(box.size, 1);
});

test('trip updates of one trip go one at a time; chat is not held back', () => {
  const box = new Outbox();
  box.add(trip('c-1'));
  box.add(trip('c-2'));
  box.add(chat('c-3'));
  box.add({ ...trip('c-4'), tripId: T2, payload: { tripId: T2 } });
  assert.deepEqual(box.takeSendable(1, ready(T1, T2)).map((e) => e.ref), ['c-1', 'c-3', 'c-4']);
  box.ack('c-1');
  assert.deepEqual(box.takeSendable(1, ready(T1, T2)).map((e) => e.ref), ['c-2']);
});

test('a failed step drops the rest of its group; other entries stay', () => {
  const box = new Outbox();
  box.add(trip('c-1', { group: 'g' }));
  box.add(trip('c-2', { group: 'g', chainBase: true, baseVersion: null }));
  box.add(trip('c-3'));
  box.takeSendable(1, ready(T1));
  const res = box.fail('c-1');
  assert.equal(res.entry.ref, 'c-1');
  assert.deepEqual(res.dropped.map((e) => e.ref), ['c-2']);
  assert.deepEqual(box.entries.map((e) => e.ref), ['c-3']);
});

test('a chained step takes the version its previous step was applied at', () => {
  const box = new Outbox();
  const a = box.add(trip('c-1', { group: 'g' }));
  box.add(trip('c-2', { group: 'g', chainBase: true, baseVersion: null }));
  box.add(trip('c-3', { baseVersion: 10 }));
  box.takeSendable(1, ready(T1));
  box.ack('c-1');
  box.rebaseAfter(a, 11, () => false);
  assert.equal(box.byRef('c-2').baseVersion, 11);
  assert.equal(box.byRef('c-3').baseVersion, 10, 'not re-based when not allowed');
  box.rebaseAfter(a, 11, (from, to) => from === 10 && to === 11);
  assert.equal(box.byRef('c-3').baseVersion, 11);
});

test('a refused attempt is retried under a fresh ref, not before its time', () => {
  const box = new Outbox();
  box.add(chat('c-1'));
  box.takeSendable(1, ready(T1), 0);
  box.retryWithNewRef('c-1', 'c-9', 5000);
  assert.deepEqual(box.takeSendable(1, ready(T1), 1000), []);
  assert.deepEqual(box.takeSendable(1, ready(T1), 5000).map((e) => e.ref), ['c-9']);
});

test('unanswered frames are resent under the same ref after a timeout', () => {
  const box = new Outbox();
  box.add(chat('c-1'));
  box.takeSendable(1, ready(T1), 0);
  assert.deepEqual(box.expireUnanswered(1, 1000, 15000), []);
  assert.equal(box.expireUnanswered(1, 15000, 15000).length, 1);
  assert.deepEqual(box.takeSendable(1, ready(T1), 15000).map((e) => e.ref), ['c-1']);
});

test('only entries that never left the browser can be cancelled', () => {
  const box = new Outbox();
  box.add(chat('c-1'));
  box.add(chat('c-2'));
  box.takeSendable(1, ready(T1));
  assert.equal(box.cancel('m-c-1'), false);
  assert.equal(box.cancel('m-c-2'), false, 'c-2 went out too');
  box.add(chat('c-3', T2));
  assert.equal(box.cancel('m-c-3'), true);
});

// ------------------------------------------------------------------ socket

class FakeWS {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeWS.all.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  // test helpers
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

function fakeTimers() {
  const timers = [];
  return {
    timers,
    setTimeout: (fn, ms) => {
      timers.push({ fn, ms });
      return timers.length;
    },
    clearTimeout: (id) => {
      if (timers[id - 1]) timers[id - 1].fn = null;
    },
    async runNext() {
      const t = timers.find((x) => x.fn);
      const fn = t.fn;
      t.fn = null;
      await fn();
      return t.ms;
    },
  };
}

function makeSocket(extra = {}) {
  FakeWS.all = [];
  const states = [];
  const frames = [];
  const timers = fakeTimers();
  const clock = { t: 1000 }; // attempts are stamped with it, as the page's heartbeat is
  let n = 0;
  const sock = new ReconnectingSocket({
    url: () => `ws://x/ws?token=t&n=${++n}`,
    onFrame: (f, connId) => frames.push([f, connId]),
    onState: (s, d) => states.push([s, d]),
    WebSocketImpl: FakeWS,
    random: () => 1,
    timers,
    now: () => clock.t,
    ...extra,
  });
  return { sock, states, frames, timers, clock };
}

test('reconnects with growing, capped delays and resets after the server speaks', async () => {
  const { sock, states, timers } = makeSocket();
  sock.start();
  FakeWS.all[0].open();
  FakeWS.all[0].receive({ event: 'connected', data: {} });
  FakeWS.all[0].drop(1006);
  const delays = [];
  for (let i = 0; i < 6; i++) {
    delays.push(timers.timers.filter((t) => t.fn).at(-1).ms);
    await timers.runNext();
    FakeWS.all.at(-1).drop(1006);
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 10000]);
  assert.ok(states.some(([s]) => s === 'reconnecting'));
  // A connection that gets a frame resets the back-off.
  await timers.runNext();
  FakeWS.all.at(-1).open();
  FakeWS.all.at(-1).receive({ event: 'connected', data: {} });
  FakeWS.all.at(-1).drop(1001);
  assert.equal(timers.timers.filter((t) => t.fn).at(-1).ms, 500, '1001 (server shutting down) reconnects');
});

test('4001, 4003 and 4010 stop reconnecting', () => {
  for (const [code, state] of [[4001, 'expired'], [4003, 'kicked'], [4010, 'replaced']]) {
    const { sock, states, timers } = makeSocket();
    sock.start();
    FakeWS.all[0].open();
    FakeWS.all[0].drop(code);
    assert.equal(states.at(-1)[0], state);
    assert.equal(timers.timers.filter((t) => t.fn).length, 0);
    assert.equal(sock.stopped, true);
  }
});

test('beforeReconnect can stop the loop (token no longer valid)', async () => {
  const { sock, states, timers } = makeSocket({ beforeReconnect: async () => false });
  sock.start();
  FakeWS.all[0].drop(1006);
  await timers.runNext();
  assert.equal(FakeWS.all.length, 1);
  assert.equal(states.at(-1)[0], 'expired');
});

test('frames from the socket are parsed and tagged with their connection', () => {
  const { sock, frames } = makeSocket();
  sock.start();
  FakeWS.all[0].open();
  FakeWS.all[0].receive({ event: 'connected', data: { userId: 'u' } });
  FakeWS.all[0].onmessage({ data: 'not json' });
  assert.deepEqual(frames, [[{ event: 'connected', data: { userId: 'u' } }, 1]]);
  assert.equal(sock.send({ event: 'typing' }), true);
  sock.stop();
  assert.equal(sock.send({ event: 'typing' }), false);
});

test('restart (hide presence) opens a new connection with the new URL at once', () => {
  const { sock, states } = makeSocket();
  sock.start();
  FakeWS.all[0].open();
  sock.restart();
  assert.equal(FakeWS.all.length, 2);
  assert.equal(FakeWS.all[0].readyState, 3);
  assert.match(FakeWS.all[1].url, /n=2$/);
  assert.equal(states.at(-1)[0], 'connecting');
});

test('reconnectNow abandons an attempt in flight made before the network came back: one connection, not two', async () => {
  const { sock, states, frames, timers, clock } = makeSocket();
  sock.start();
  FakeWS.all[0].open();
  FakeWS.all[0].drop(1006);
  await timers.runNext(); // attempt 2 is connecting
  assert.equal(FakeWS.all.length, 2);
  clock.t += 3000;
  sock.reconnectNow(clock.t); // say the browser's `online` event, or "Retry now"
  assert.equal(FakeWS.all.length, 3);
  assert.equal(FakeWS.all[1].readyState, 3, 'the attempt in flight is closed');
  FakeWS.all[1].open(); // a late open of the abandoned socket changes nothing
  FakeWS.all[1].receive({ event: 'connected', data: {} });
  assert.equal(states.at(-1)[0], 'reconnecting');
  assert.deepEqual(frames, []);
  FakeWS.all[2].open();
  FakeWS.all[2].receive({ event: 'connected', data: {} });
  assert.equal(states.at(-1)[0], 'open');
  assert.deepEqual(frames.map(([, connId]) => connId), [sock.connId]);
});

test('an address that takes a request (a ticket) opens once it is known, and a restart meanwhile wins', async () => {
  let n = 0;
  const { sock } = makeSocket({ url: () => Promise.resolve(`ws://x/ws?ticket=k${++n}`) });
  sock.start();
  assert.equal(FakeWS.all.length, 0, 'nothing opens before the ticket is there');
  sock.restart(); // the first ticket's attempt is moot now
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(FakeWS.all.map((ws) => ws.url), ['ws://x/ws?ticket=k2']);
});

test('an address that cannot be had schedules a reconnect', async () => {
  const { sock, states } = makeSocket({ url: () => Promise.reject(new Error('offline')) });
  sock.start();
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(FakeWS.all.length, 0);
  assert.equal(states.at(-1)[0], 'reconnecting');
});

test('drop lets a silent connection go and schedules a reconnect', async () => {
  const { sock, states, timers } = makeSocket();
  sock.start();
  FakeWS.all[0].open();
  sock.drop();
  assert.equal(sock.isOpen, false);
  assert.equal(states.at(-1)[0], 'reconnecting');
  await timers.runNext();
  assert.equal(FakeWS.all.length, 2);
});

test('an attempt whose `connected` never came (lost with the network) is replaced by reconnectNow once the network is back', async () => {
  const { sock, states, frames, timers, clock } = makeSocket();
  sock.start();
  FakeWS.all[0].open();
  FakeWS.all[0].receive({ event: 'connected', data: {} });
  clock.t += 1000;
  sock.reconnectNow(clock.t);
  assert.equal(FakeWS.all.length, 1, 'a connection the server answered is kept');
  FakeWS.all[0].drop(1006);
  await timers.runNext();
  FakeWS.all[1].open(); // the upgrade went through; the server's `connected` never arrives
  assert.equal(states.at(-1)[0], 'open');
  FakeWS.all[1].receive({ event: 'trip_room_joined', data: {} }); // what followed it came through
  clock.t += 5000;
  sock.reconnectNow(clock.t); // the heartbeat is answered again: the network is back
  assert.equal(FakeWS.all.length, 3);
  assert.equal(FakeWS.all[1].readyState, 3, 'the silent attempt is closed, not left open beside the new one');
  FakeWS.all[2].open();
  FakeWS.all[2].receive({ event: 'connected', data: {} });
  assert.deepEqual(frames.map(([, connId]) => connId), [1, 2, sock.connId]);
});

test('an attempt the server does not answer within its deadline is given up and another scheduled', async () => {
  const { sock, states, timers } = makeSocket({ attemptMs: 7000 });
  sock.start();
  FakeWS.all[0].open(); // and nothing more: no frame, no error, no close
  assert.equal(await timers.runNext(), 7000, 'the only timer is the attempt deadline');
  assert.equal(FakeWS.all[0].readyState, 3);
  assert.equal(states.at(-1)[0], 'reconnecting');
  assert.equal(timers.timers.filter((t) => t.fn).length, 1, 'one back-off timer, and no other deadline');
  await timers.runNext();
  assert.equal(FakeWS.all.length, 2);
  FakeWS.all[1].open();
  FakeWS.all[1].receive({ event: 'connected', data: {} });
  assert.equal(timers.timers.filter((t) => t.fn).length, 0, 'an answered attempt has no deadline');
});

test('an address still being fetched at the deadline opens nothing when it comes', async () => {
  let give;
  const { sock, timers } = makeSocket({ url: () => new Promise((resolve) => (give = resolve)) });
  sock.start();
  await timers.runNext(); // the deadline: the ticket request hangs
  give('ws://x/ws?ticket=late');
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(FakeWS.all.length, 0, 'the back-off timer opens the next attempt, not the late address');
  assert.equal(sock.state, 'reconnecting');
});

test('reconnectNow leaves alone an attempt made since the network came back, however long its `connected` takes', async () => {
  const { sock, states, timers, clock } = makeSocket();
  sock.start();
  FakeWS.all[0].open();
  FakeWS.all[0].receive({ event: 'connected', data: {} });
  FakeWS.all[0].drop(1006);
  const backAt = clock.t; // the network was last seen coming back before this attempt
  clock.t += 500;
  await timers.runNext(); // attempt 2
  FakeWS.all[1].open(); // upgraded; the server is slow to send `connected`
  for (let beat = 0; beat < 3; beat++) {
    clock.t += 5000;
    sock.reconnectNow(backAt);
    sock.reconnectNow(); // nothing known of the network: the same
  }
  assert.equal(FakeWS.all.length, 2, 'no new attempt beside it');
  assert.equal(FakeWS.all[1].readyState, 1, 'it stays open');
  assert.equal(states.at(-1)[0], 'open');
  assert.equal(sock.attempt, 1);
  FakeWS.all[1].receive({ event: 'connected', data: {} });
  assert.equal(sock.attempt, 0, 'it completes');
});

test('an attempt the server never answers is ended by its deadline, not by reconnectNow, and the back-off grows', async () => {
  const { sock, timers } = makeSocket({ attemptMs: 7000 });
  sock.start();
  FakeWS.all[0].open();
  FakeWS.all[0].drop(1006);
  await timers.runNext(); // the back-off: attempt 2
  FakeWS.all[1].open();
  sock.reconnectNow();
  assert.equal(FakeWS.all.length, 2);
  assert.equal(await timers.runNext(), 7000, "attempt 2's deadline");
  assert.equal(FakeWS.all[1].readyState, 3);
  assert.equal(sock.attempt, 2);
  assert.equal(timers.timers.filter((t) => t.fn).at(-1).ms, 1000, 'the next wait is longer');
});

test('reconnectNow skips the back-off wait', () => {
  const { sock, states, timers } = makeSocket();
  sock.start();
  FakeWS.all[0].open();
  FakeWS.all[0].receive({ event: 'connected', data: {} });
  FakeWS.all[0].drop(1006);
  assert.equal(FakeWS.all.length, 1, 'waiting out the back-off');
  sock.reconnectNow();
  assert.equal(FakeWS.all.length, 2, 'the next attempt is made at once');
  assert.equal(states.at(-1)[0], 'reconnecting');
  assert.deepEqual(timers.timers.filter((t) => t.fn).map((t) => t.ms), [10_000], 'no back-off timer left: only the attempt deadline');
});

// --------------------------------------------- the heartbeat and the socket, as the page wires them

function pageWithHeartbeat() {
  const made = makeSocket();
  const { sock, clock } = made;
  const world = { healthy: true };
  const watch = new Connectivity({
    healthy: async () => world.healthy,
    active: () => true,
    connected: () => sock.isOpen && sock.answered,
    onOffline: () => sock.drop(),
    onOnline: () => sock.reconnectNow(watch.backAt),
    onReachable: () => sock.reconnectNow(watch.backAt),
    now: () => clock.t,
    win: { navigator: { onLine: true } },
  });
  sock.start();
  FakeWS.all[0].open();
  FakeWS.all[0].receive({ event: 'connected', data: {} });
  return { ...made, world, watch };
}

test('a heartbeat while an attempt made with the network up awaits `connected` leaves it alone', async () => {
  const { sock, watch, timers, clock } = pageWithHeartbeat();
  FakeWS.all[0].drop(1006); // the server restarted, say: the network is fine
  await timers.runNext();
  FakeWS.all[1].open(); // a reconnect storm: `connected` takes a while
  for (let beat = 0; beat < 4; beat++) {
    clock.t += 5000;
    await watch.beat();
  }
  assert.equal(FakeWS.all.length, 2, 'not replaced at every beat');
  assert.equal(FakeWS.all[1].readyState, 1);
  FakeWS.all[1].receive({ event: 'connected', data: {} });
  assert.equal(sock.attempt, 0);
});

test('an attempt made while the network was down is replaced when the heartbeat sees it back, once', async () => {
  const { sock, watch, world, timers, clock } = pageWithHeartbeat();
  world.healthy = false;
  clock.t += 5000;
  await watch.beat(); // unanswered while the socket looks open: offline, the socket dropped
  assert.equal(watch.offline, true);
  clock.t += 500;
  await timers.runNext(); // a retry through the dead network
  FakeWS.all[1].open(); // upgraded, its `connected` lost
  clock.t += 5000;
  await watch.beat();
  assert.equal(FakeWS.all.length, 2, 'nothing to do while the network is still down');
  world.healthy = true;
  clock.t += 5000;
  await watch.beat(); // the network is back
  assert.equal(FakeWS.all.length, 3, 'the attempt made through the dead network is replaced');
  assert.equal(FakeWS.all[1].readyState, 3);
  FakeWS.all[2].open(); // and this one is slow to hear `connected`
  clock.t += 5000;
  await watch.beat();
  assert.equal(FakeWS.all.length, 3, 'the one made since the network came back is left alone');
  FakeWS.all[2].receive({ event: 'connected', data: {} });
  assert.equal(sock.isOpen && sock.answered, true);
});

test('an attempt made while the heartbeat went unanswered with the socket down is replaced at the first answer', async () => {
  const { watch, world, timers, clock } = pageWithHeartbeat();
  FakeWS.all[0].drop(1006); // the socket noticed first
  world.healthy = false;
  clock.t += 500;
  await timers.runNext();
  FakeWS.all[1].open();
  clock.t += 5000;
  await watch.beat();
  assert.equal(watch.offline, false, 'the reconnecting socket says so itself');
  world.healthy = true;
  clock.t += 5000;
  await watch.beat();
  assert.equal(FakeWS.all.length, 3);
  clock.t += 5000;
  await watch.beat();
  assert.equal(FakeWS.all.length, 3);
});

test("a heartbeat answered while the socket waits out its back-off skips the wait", async () => {
  const { watch, timers, clock } = pageWithHeartbeat();
  FakeWS.all[0].drop(1006);
  assert.equal(FakeWS.all.length, 1);
  clock.t += 5000;
  await watch.beat();
  assert.equal(FakeWS.all.length, 2, 'attempt made at once');
  assert.equal(timers.timers.filter((t) => t.fn && t.ms === 500).length, 0, 'the back-off timer is gone');
});
