// What chat messages show after they are posted: "edited", tombstones, reaction chips and the
// edit/delete/react controls, drawn over the bubbles ui.js renderChat made; the unread badge.

import { h, replaceChildren } from './ui.js';
import { QUICK_REACTIONS, REACTION_LOOKS, allowedActions, currentMessage, messageWords, reactionChips, reactionLabel } from './chat-changes.js';
import { icon } from './icons.js';

/** A quick reaction as its SVG icon; any other (sent by another client) as its own text. */
const reactionFace = (emoji) => (REACTION_LOOKS[emoji] ? icon(REACTION_LOOKS[emoji].icon) : emoji);

/** The REST calls behind the controls (the room hears of each by WebSocket, as everyone does). */
export function chatActions({ api, tripId, confirm, onError, rerender }) {
  const call = async (method, path, body, failure) => {
    const trip = tripId();
    if (!trip) return;
    try {
      await api.request(method, `/api/trips/${trip}/${path}`, body);
    } catch (err) {
      onError(failure, err);
    }
  };
  return {
    edit: (id, text) => call('PATCH', `messages/${id}`, { message: text }, 'Could not edit the message'),
    remove: async (id) => {
      if (await confirm({ title: 'Delete this message?', text: 'Everyone in the trip will see that it was deleted.', yes: 'Delete' })) {
        await call('DELETE', `messages/${id}`, undefined, 'Could not delete the message');
      }
    },
    react: (id, emoji, mine) => call(mine ? 'DELETE' : 'PUT', `messages/${id}/reactions/${encodeURIComponent(emoji)}`, undefined, 'Could not react'),
    markRead: (seq) => call('PUT', 'chat/read', { seq }, 'Could not mark the chat read'),
    rerender,
  };
}

export class ChatChanges {
  /** actions: chatActions(...) */
  constructor(actions) {
    this.actions = actions;
    this.editing = null; // { messageId, draft } while a message is being edited
  }

  /** Decorate every message bubble of `logEl` (after renderChat) from the room's messages. */
  decorate(logEl, room, selfId) {
    if (!room) return;
    const ownerId = room.trip?.ownerId ?? null;
    for (const raw of room.messages) {
      if (raw.messageId == null) continue;
      const li = logEl.querySelector(`[data-testid="chat-message-${CSS.escape(raw.messageId)}"]`);
      if (li) this.decorateOne(li, currentMessage(raw), selfId, ownerId);
    }
  }

  decorateOne(li, m, selfId, ownerId) {
    const id = m.messageId;
    const text = li.querySelector('.msg-text');
    const body = li.querySelector('.msg-body');
    if (m.deleted) {
      li.classList.add('is-deleted');
      text.textContent = 'Message deleted';
      return;
    }
    li.classList.toggle('mentions-me', Boolean(selfId && m.mentions?.includes(selfId)));
    if (m.edited) li.querySelector('.msg-head')?.append(h('span', { class: 'msg-edited', testid: `chat-edited-${id}`, title: m.editedAt || '' }, '(edited)'));
    if (this.editing?.messageId === id) {
      text.replaceWith(this.editor(id));
      return;
    }
    const can = allowedActions(m, selfId, ownerId);
    const which = messageWords(li.querySelector('.msg-author')?.textContent, m.message); // every control names its message
    const chips = reactionChips(m, selfId);
    const shown = new Set(chips.map((c) => c.emoji));
    body.append(
      h('div', { class: 'msg-reactions', testid: `chat-reactions-${id}` },
        chips.map((c) =>
          h('button', { type: 'button', class: `chip reaction${c.mine ? ' mine' : ''}`, testid: `chat-reaction-${id}-${c.emoji}`, 'aria-pressed': String(c.mine),
            'aria-label': reactionLabel(c.emoji, c.count, c.mine), title: reactionLabel(c.emoji, c.count, c.mine),
            onclick: () => this.actions.react(id, c.emoji, c.mine) }, reactionFace(c.emoji), h('span', { 'aria-hidden': 'true' }, String(c.count)))),
        QUICK_REACTIONS.filter((e) => !shown.has(e)).map((e) =>
          h('button', { type: 'button', class: 'chip reaction add', testid: `chat-react-${id}-${e}`, 'aria-label': reactionLabel(e, null, false, which), title: reactionLabel(e),
            onclick: () => this.actions.react(id, e, false) }, reactionFace(e))),
        can.edit ? h('button', { type: 'button', class: 'link-btn', testid: `chat-edit-${id}`, 'aria-label': `Edit ${which}`, onclick: () => this.startEdit(m) }, 'Edit') : null,
        can.remove ? h('button', { type: 'button', class: 'link-btn', testid: `chat-delete-${id}`, 'aria-label': `Delete ${which}`, onclick: () => this.actions.remove(id) }, 'Delete') : null,
      ),
    );
  }

  startEdit(m) {
    this.editing = { messageId: m.messageId, draft: m.message };
    this.actions.rerender();
  }

  editor(id) {
    const input = h('input', { class: 'input', testid: `chat-edit-input-${id}`, value: this.editing.draft, maxlength: '1000', 'aria-label': 'Edit message' });
    input.addEventListener('input', () => { this.editing.draft = input.value; });
    const done = () => { this.editing = null; this.actions.rerender(); };
    return h('form', { class: 'msg-edit', testid: `chat-edit-form-${id}`,
      onsubmit: async (ev) => { ev.preventDefault(); const text = this.editing.draft.trim(); if (text) await this.actions.edit(id, text); done(); } },
      input,
      h('button', { type: 'submit', class: 'btn btn-small', testid: `chat-edit-save-${id}` }, 'Save'),
      h('button', { type: 'button', class: 'link-btn', testid: `chat-edit-cancel-${id}`, onclick: done }, 'Cancel'));
  }
}

/** The unread badge of the open trip's chat: "N unread" (a button that marks them read), hidden at 0. */
export function renderUnread(badge, count, markRead) {
  badge.hidden = count === 0;
  replaceChildren(badge, count === 0 ? null : `${count} unread`);
  badge.onclick = count === 0 ? null : markRead;
}
