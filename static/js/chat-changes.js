// Chat messages after they are posted: edits, deletes (tombstones), reactions, and how many
// are unread. Pure functions over the room of state.js; chat-view.js draws them.

export const CHAT_CHANGE_EVENTS = Object.freeze(['chat_message_edited', 'chat_message_deleted', 'chat_reactions']);
export const QUICK_REACTIONS = Object.freeze(['👍', '❤️', '🎉', '😂']);
/** The quick reactions in words and the SVG icon each is drawn with (js/icons.js): never an emoji glyph on screen. */
export const REACTION_LOOKS = Object.freeze({
  '👍': { name: 'thumbs up', icon: 'thumbsUp' },
  '❤️': { name: 'heart', icon: 'heart' },
  '🎉': { name: 'celebrate', icon: 'party' },
  '😂': { name: 'laughing', icon: 'laugh' },
});

/** Which message a control acts on, for its label: "your message “See you at…”", "Ben's message “…”". */
export function messageWords(author, text) {
  const whose = !author || author === 'You' ? 'your message' : `${author}'s message`;
  const t = String(text ?? '').trim();
  return t ? `${whose} “${t.length > 30 ? `${t.slice(0, 29)}…` : t}”` : whose;
}

/** A reaction chip's label for screen readers: "thumbs up, 2 people, yours among them". */
export function reactionLabel(emoji, count = null, mine = false, message = '') {
  const name = REACTION_LOOKS[emoji]?.name ?? emoji;
  if (count === null) return message ? `React with ${name} to ${message}` : `React with ${name}`;
  return `${name}, ${count === 1 ? '1 person' : `${count} people`}${mine ? ', yours among them' : ''}`;
}

const TEXT_FIELDS = ['message', 'edited', 'editedAt', 'reactions'];
const EXTRA_FIELDS = ['edited', 'editedAt', 'deleted', 'deletedBy', 'deletedAt', 'reactions', 'mentions'];

/** What a message view carries besides its posted fields (state.js keeps them through its normalising). */
export function chatExtras(m) {
  const extras = {};
  for (const key of EXTRA_FIELDS) if (m?.[key] !== undefined) extras[key] = m[key];
  return extras;
}

/** A message as it is now: a tombstone keeps no text (a history page merged over a held message must not bring it back). */
export function currentMessage(message) {
  if (!message?.deleted) return message;
  const tombstone = { ...message };
  for (const key of TEXT_FIELDS) delete tombstone[key];
  return tombstone;
}

/** The message after an edit, a delete or a reaction frame's data. */
export function changedMessage(message, event, data) {
  if (event === 'chat_message_deleted') {
    return currentMessage({ ...message, deleted: true, deletedBy: data.deletedBy, deletedAt: data.deletedAt });
  }
  if (message.deleted) return message;
  if (event === 'chat_message_edited') return { ...message, message: data.message, edited: true, editedAt: data.editedAt };
  const reactions = Array.isArray(data.reactions) ? data.reactions : [];
  const next = { ...message, reactions };
  if (reactions.length === 0) delete next.reactions;
  return next;
}

/**
 * Fold a chat_message_edited / chat_message_deleted / chat_reactions frame into the room.
 * They are trip-stream events (a `seq`) like chat_message, so they move lastSeq and tell of
 * gaps the same way; a chat_reactions answer without `seq` changed nothing in the stream.
 */
export function reduceChatChange(room, frame) {
  const { event, data } = frame || {};
  if (!room || !data || !CHAT_CHANGE_EVENTS.includes(event)) return { room, info: { ignored: true } };
  if (data.tripId != null && data.tripId !== room.tripId) return { room, info: { ignored: true } };
  const seq = Number.isInteger(data.seq) ? data.seq : null;
  if (seq !== null && seq <= room.lastSeq) return { room, info: { duplicate: true, seq } };
  const gap = seq !== null && room.lastSeq > 0 && seq > room.lastSeq + 1;
  const messages = room.messages.map((m) => (m.messageId === data.messageId ? changedMessage(m, event, data) : m));
  const trip = room.trip && seq !== null && seq > room.trip.version ? { ...room.trip, version: seq } : room.trip;
  return {
    room: { ...room, trip, messages, lastSeq: seq ?? room.lastSeq },
    info: { applied: true, gap, seq },
  };
}

/** Each emoji on the message, with its count and whether `selfId` is among those who chose it. */
export function reactionChips(message, selfId) {
  return (message?.reactions || []).map((r) => ({
    emoji: r.emoji,
    count: r.count ?? (r.userIds || []).length,
    mine: (r.userIds || []).includes(selfId),
  }));
}

/** Messages of others, not deleted, after the read mark `readSeq`. */
export function unreadCount(messages, readSeq, selfId) {
  return (messages || []).filter((m) => !m.deleted && m.userId !== selfId && (m.seq ?? 0) > readSeq).length;
}

/** The newest stream position among the messages (what "read up to here" marks). */
export function newestSeq(messages) {
  return (messages || []).reduce((top, m) => Math.max(top, m.seq ?? 0), 0);
}

/** Who may edit (the author) and delete (the author, the trip's owner) a message, as the server decides. */
export function allowedActions(message, selfId, ownerId) {
  if (!message || message.deleted || message.messageId == null || !selfId) return { edit: false, remove: false };
  const mine = message.userId === selfId;
  return { edit: mine, remove: mine || ownerId === selfId };
}

const MAX_MENTIONS = 20;

/** `{mentions: [ids]}` for the people `@Name` names in `text` (names: userId -> display name), or `{}`. */
export function mentionsIn(text, names, selfId) {
  const lower = String(text || '').toLowerCase();
  const found = Object.entries(names || {})
    .filter(([id, name]) => id !== selfId && name && mentionAt(lower, `@${String(name).toLowerCase()}`))
    .map(([id]) => id)
    .slice(0, MAX_MENTIONS);
  return found.length ? { mentions: found } : {};
}

function mentionAt(text, token) {
  for (let at = text.indexOf(token); at !== -1; at = text.indexOf(token, at + 1)) {
    const next = text[at + token.length];
    if (next === undefined || !/[\p{L}\p{N}_]/u.test(next)) return true;
  }
  return false;
}
