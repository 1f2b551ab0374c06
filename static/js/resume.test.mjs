// node --test static/js/resume.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';

import { mustJoin, remember, resumeQuery } from './resume.js';

const T1 = 'aaaaaaaaaaaaaaaaaaaaaaaa';

test('the token of a connected frame is kept; none when the server offers no resume', () => {
  assert.deepEqual(remember({ sessionId: 's1', resumeToken: 's1.sig', resumed: false }), { token: 's1.sig', sessionId: 's1' });
  assert.equal(remember({ sessionId: 's1' }), null);
  assert.equal(remember(null), null);
});

test('a reconnect asks for the session back with the last seq of its room', () => {
  const resume = { token: 's1.sig', sessionId: 's1' };
  assert.deepEqual(resumeQuery(resume, { tripId: T1, lastSeq: 42 }), { resume: 's1.sig', lastSeq: `${T1}:42` });
  assert.deepEqual(resumeQuery(resume, { tripId: T1, lastSeq: 0 }), { resume: 's1.sig' }); // no snapshot yet: the server sends one
  assert.deepEqual(resumeQuery(resume, null), { resume: 's1.sig' });
  assert.deepEqual(resumeQuery(null, { tripId: T1, lastSeq: 42 }), {});
});

test('the page joins its room itself unless the resumed session got it back', () => {
  assert.equal(mustJoin({ resumed: true, rooms: [T1] }, T1), false);
  assert.equal(mustJoin({ resumed: true, rooms: [] }, T1), true); // access lost, or not in it
  assert.equal(mustJoin({ resumed: false }, T1), true);
  assert.equal(mustJoin({}, T1), true);
});
