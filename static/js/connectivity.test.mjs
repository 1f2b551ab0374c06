// Node tests of the offline detection: the browser's events at once, and the
// heartbeat for a network that died without the browser saying so.
import test from 'node:test';
import assert from 'node:assert/strict';

import { Connectivity } from './connectivity.js';

function page({ onLine = true, healthy = true, connected = true } = {}) {
  const listeners = {};
  const said = [];
  const world = { onLine, healthy, connected, active: true };
  const win = { navigator: { get onLine() { return world.onLine; } }, addEventListener: (name, fn) => { listeners[name] = fn; } };
  const watch = new Connectivity({
    healthy: async () => world.healthy,
    active: () => world.active,
    connected: () => world.connected,
    onOffline: () => said.push('offline'),
    onOnline: () => said.push('online'),
    onReachable: () => said.push('reachable'),
    everyMs: 60_000,
    win,
  });
  watch.start();
  test.after(() => watch.stop());
  return { watch, world, said, fire: (name) => listeners[name]() };
}

test("the browser's offline and online events are heard at once", () => {
  const { said, fire, watch } = page();
  fire('offline');
  assert.deepEqual(said, ['offline']);
  assert.equal(watch.offline, true);
  fire('online');
  assert.deepEqual(said, ['offline', 'online']);
});

test('a heartbeat without an answer while the socket still looks open is offline; an answer is back online', async () => {
  const { watch, world, said } = page({ healthy: false });
  await watch.beat();
  assert.deepEqual(said, ['offline']);
  world.healthy = true;
  await watch.beat();
  assert.deepEqual(said, ['offline', 'online']);
  await watch.beat();
  assert.deepEqual(said, ['offline', 'online'], 'nothing more to say while all is well');
});

test('the heartbeat leaves a socket that is already reconnecting to say so, and sleeps in a hidden tab', async () => {
  const { watch, world, said } = page({ healthy: false, connected: false });
  await watch.beat();
  assert.deepEqual(said, []);
  world.connected = true;
  world.active = false;
  await watch.beat();
  assert.deepEqual(said, []);
});

test('navigator.onLine false is offline on the next beat even before the event', async () => {
  const { watch, said } = page({ onLine: false });
  await watch.beat();
  assert.deepEqual(said, ['offline']);
});

test('a heartbeat answered while the socket is down asks to reconnect now', async () => {
  const { watch, world, said } = page({ connected: false });
  await watch.beat();
  assert.deepEqual(said, ['reachable']);
  world.connected = true;
  await watch.beat();
  assert.deepEqual(said, ['reachable'], 'nothing to ask once the socket is back');
});

test('the network is seen back at the first answered beat after unanswered ones, and the online event, not at every beat', async () => {
  const { watch, world, said, fire } = page({ connected: false });
  let t = 0;
  watch.now = () => t;
  await watch.beat();
  assert.equal(watch.backAt, -Infinity, 'never seen down');
  world.healthy = false;
  t = 5;
  await watch.beat();
  world.healthy = true;
  t = 10;
  await watch.beat();
  assert.equal(watch.backAt, 10);
  t = 15;
  await watch.beat();
  assert.equal(watch.backAt, 10, 'a later answered beat changes nothing');
  assert.deepEqual(said, ['reachable', 'reachable', 'reachable']);
  fire('offline');
  t = 20;
  fire('online');
  assert.equal(watch.backAt, 20);
});
