// Node tests of staying signed in: where the server can sign the same person in
// again (the --dev person picker) nobody pastes a token; elsewhere the dialog asks.
import test from 'node:test';
import assert from 'node:assert/strict';

globalThis.CSS ??= { escape: (s) => s };
globalThis.document ??= { activeElement: null };
const { TokenDialog } = await import('./token-dialog.js');

function dialog({ renew, canRefresh = true }) {
  const parts = {};
  const part = () => ({ hidden: true, dataset: {}, textContent: '', value: '', disabled: false, addEventListener() {}, focus() {} });
  const root = { hidden: true, dataset: {}, querySelector: (selector) => (parts[selector] ||= part()) };
  const did = [];
  const box = new TokenDialog(root, {
    selfId: () => 'u1',
    canRefresh: () => canRefresh,
    refresh: (token) => did.push(['refresh', token]),
    signIn: (token) => did.push(['signIn', token]),
    renew,
  });
  return { box, root, did };
}

test('a session ending is renewed over the socket with a new token for the same person, no dialog', async () => {
  const { box, root, did } = dialog({ renew: async () => 'fresh' });
  await box.renewOrOpen('refresh');
  assert.deepEqual(did, [['refresh', 'fresh']]);
  assert.equal(root.hidden, true);
});

test('an expired session signs the same person in again, no dialog', async () => {
  const { box, root, did } = dialog({ renew: async () => 'fresh', canRefresh: false });
  await box.renewOrOpen('expired');
  assert.deepEqual(did, [['signIn', 'fresh']]);
  assert.equal(root.hidden, true);
});

test('without a server that can sign in again (not --dev), the dialog asks for a token', async () => {
  for (const renew of [async () => null, async () => { throw new Error('404'); }]) {
    const { box, root, did } = dialog({ renew });
    await box.renewOrOpen('expired');
    assert.deepEqual(did, []);
    assert.equal(root.hidden, false);
    assert.equal(root.dataset.mode, 'expired');
  }
});
