// node --test static/js/chat-changes.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';

import {
  allowedActions,
  changedMessage,
  currentMessage,
  newestSeq,
  reactionChips,
  reduceChatChange,
  unreadCount,
} from './chat-changes.js';

const ME = 'a'.repeat(24);
const YOU = 'b'.repeat(24);
const TRIP = 'f'.repeat(24);
const posted = (id, seq, userId = YOU, message = `m${seq}`) => ({ messageId: id, tripId: TRIP, userId, message, type: 'text', seq });

function room(messages, lastSeq) {
  return { tripId: TRIP, trip: { version: lastSeq }, messages, lastSeq };
}

test('an edit replaces the text and says when; it moves lastSeq like a message', () => {
  const before = room([posted('m1', 2)], 2);
  const frame = { event: 'chat_message_edited', data: { messageId: 'm1', tripId: TRIP, userId: YOU, message: 'new', edited: true, editedAt: 'T', seq: 3 } };
  const { room: after, info } = reduceChatChange(before, frame);
  assert.equal(after.messages[0].message, 'new');
  assert.equal(after.messages[0].edited, true);
  assert.equal(after.messages[0].editedAt, 'T');
  assert.equal(after.lastSeq, 3);
  assert.equal(after.trip.version, 3);
  assert.deepEqual(info, { applied: true, gap: false, seq: 3 });
  assert.deepEqual(reduceChatChange(after, frame).info, { duplicate: true, seq: 3 });
});

test('a delete leaves a tombstone without text or reactions, and later frames cannot revive it', () => {
  const reacted = { ...posted('m1', 2), reactions: [{ emoji: '👍', count: 1, userIds: [ME] }] };
  const del = { event: 'chat_message_deleted', data: { messageId: 'm1', tripId: TRIP, userId: YOU, deleted: true, deletedBy: YOU, deletedAt: 'T', seq: 3 } };
  const gone = reduceChatChange(room([reacted], 2), del).room.messages[0];
  assert.equal(gone.deleted, true);
  assert.equal('message' in gone, false);
  assert.equal('reactions' in gone, false);
  assert.equal(changedMessage(gone, 'chat_message_edited', { message: 'back' }).message, undefined);
  assert.equal(currentMessage({ ...gone, message: 'merged from an old page' }).message, undefined);
});

test('a frame past lastSeq + 1 is a gap; a reactions answer without seq changes only the reactions', () => {
  const start = room([posted('m1', 2)], 2);
  const summary = [{ emoji: '🎉', count: 1, userIds: [ME] }];
  assert.equal(reduceChatChange(start, { event: 'chat_reactions', data: { messageId: 'm1', reactions: summary, seq: 5 } }).info.gap, true);
  const { room: after } = reduceChatChange(start, { event: 'chat_reactions', data: { messageId: 'm1', reactions: summary } });
  assert.deepEqual(after.messages[0].reactions, summary);
  assert.equal(after.lastSeq, 2);
  const cleared = reduceChatChange(after, { event: 'chat_reactions', data: { messageId: 'm1', reactions: [], seq: 3 } }).room;
  assert.equal('reactions' in cleared.messages[0], false);
});

test('reaction chips count and mark the own ones', () => {
  const m = { reactions: [{ emoji: '👍', count: 2, userIds: [ME, YOU] }, { emoji: '🎉', count: 1, userIds: [YOU] }] };
  assert.deepEqual(reactionChips(m, ME), [{ emoji: '👍', count: 2, mine: true }, { emoji: '🎉', count: 1, mine: false }]);
});

test('unread counts messages of others after the mark, not deleted ones', () => {
  const messages = [posted('m1', 2), posted('m2', 3, ME), posted('m3', 4), { ...posted('m4', 5), deleted: true }, posted('m5', 6)];
  assert.equal(unreadCount(messages, 0, ME), 3);
  assert.equal(unreadCount(messages, 4, ME), 1);
  assert.equal(unreadCount(messages, newestSeq(messages), ME), 0);
});

test('the author edits and deletes; the owner only deletes; nobody acts on a tombstone', () => {
  assert.deepEqual(allowedActions(posted('m1', 2, ME), ME, YOU), { edit: true, remove: true });
  assert.deepEqual(allowedActions(posted('m1', 2, YOU), ME, ME), { edit: false, remove: true });
  assert.deepEqual(allowedActions(posted('m1', 2, YOU), ME, YOU), { edit: false, remove: false });
  assert.deepEqual(allowedActions({ ...posted('m1', 2, ME), deleted: true }, ME, ME), { edit: false, remove: false });
});

test('@Name mentions the people of the room by their display names, not oneself, whole names only', async () => {
  const { mentionsIn } = await import('./chat-changes.js');
  const names = { [ME]: 'Ana', [YOU]: 'Ben', c: 'Bea Silva' };
  assert.deepEqual(mentionsIn('@ben and @Bea Silva, look', names, ME), { mentions: [YOU, 'c'] });
  assert.deepEqual(mentionsIn('@Ana talks to herself', names, ME), {});
  assert.deepEqual(mentionsIn('@Benedict is someone else', names, ME), {});
  assert.deepEqual(mentionsIn('no names', names, ME), {});
});

test('a history page keeps edits, tombstones, reactions and mentions through state.js', async () => {
  const { applyHistory, createRoom } = await import('./state.js');
  const page = [
    { ...posted('m1', 2), message: 'fixed', edited: true, editedAt: 'T', reactions: [{ emoji: '👍', count: 1, userIds: [ME] }], mentions: [ME] },
    { messageId: 'm2', tripId: TRIP, userId: YOU, type: 'text', seq: 3, deleted: true, deletedBy: YOU, deletedAt: 'T' },
  ];
  const room = applyHistory({ ...createRoom(TRIP), messages: [posted('m2', 3, YOU, 'secret')] }, page);
  const [first, second] = room.messages.map(currentMessage);
  assert.equal(first.edited, true);
  assert.deepEqual(first.mentions, [ME]);
  assert.equal(first.reactions.length, 1);
  assert.equal(second.deleted, true);
  assert.equal(second.message, undefined); // the held text is gone
});

test('chat controls name the message they act on', async () => {
  const { messageWords, reactionLabel } = await import('./chat-changes.js');
  assert.equal(messageWords('You', 'See you at the tram stop at nine sharp'), 'your message “See you at the tram stop at n…”');
  assert.equal(messageWords('Ben', 'Fado?'), "Ben's message “Fado?”");
  assert.equal(reactionLabel('🎉', null, false, messageWords('Ben', 'Fado?')), "React with celebrate to Ben's message “Fado?”");
  assert.equal(reactionLabel('👍', 2, true), 'thumbs up, 2 people, yours among them');
});
