// DOM helpers and the renderers of the trip board, chat, presence and
// notifications. Renderers take plain state and a handlers object; they never
// talk to the network themselves.

import { initials, formatClock, formatDay } from './util.js';
import { sortDays, sortActivities, typingUsers, typingText } from './state.js';
import { avatarLooks, colorOf, nameOf, STATUS_WORDS } from './people.js';
import { constraintWords, formatMoney } from './money.js';
import { icon } from './icons.js';
import { changeNotificationText } from './collab.js';

// ------------------------------------------------------------------ basics

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'readOnly', 'open']);

/** h('button', {testid: 'x', onclick}, 'Label') -> element. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'testid') el.dataset.testid = v;
    else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) if (dv !== null && dv !== undefined) el.dataset[dk] = String(dv);
    }
    else if (k === 'style') for (const [sk, sv] of Object.entries(v)) el.style.setProperty(sk, sv);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false || c === '') continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (testid, root = document) => root.querySelector(`[data-testid="${CSS.escape(testid)}"]`);

/**
 * Re-render `container` with fn() while keeping what the user is typing:
 * values of text inputs and textareas (by data-testid), focus and caret.
 */
export function preserving(container, fn) {
  const saved = new Map();
  for (const el of container.querySelectorAll('input[data-testid], textarea[data-testid]')) {
    if (el.type === 'checkbox' || el.type === 'radio' || el.dataset.keep === 'no') continue;
    saved.set(el.dataset.testid, el.value);
  }
  const active = document.activeElement;
  const focusId = active && container.contains(active) ? active.dataset?.testid : null;
  let selStart = null;
  let selEnd = null;
  try {
    selStart = active?.selectionStart ?? null;
    selEnd = active?.selectionEnd ?? null;
  } catch {
    /* inputs like type=date have no selection */
  }
  fn();
  for (const [testid, value] of saved) {
    const el = $(testid, container);
    if (el && el.value !== value) el.value = value;
  }
  if (focusId) {
    const el = $(focusId, container);
    if (el) {
      el.focus({ preventScroll: true });
      if (selStart !== null) {
        try {
          el.setSelectionRange(selStart, selEnd);
        } catch {
          /* not a text input */
        }
      }
    }
  }
}

export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// ----------------------------------------------------------------- avatars

export function displayName(userId, names, selfId) {
  const base = nameOf(userId, names, null);
  return userId === selfId ? `${base} (you)` : base;
}

/** look: {label, color} from people.avatarLooks, so people of one group stay apart. */
export function avatar(userId, name, { size = 'md', status = null, title = null, look = null } = {}) {
  return h(
    'span',
    {
      class: `avatar avatar-${size}`,
      style: { '--avatar-bg': look?.color ?? colorOf(userId) },
      title: title ?? name ?? '',
      'aria-hidden': 'true',
    },
    look?.label ?? initials(name, userId),
    status ? h('span', { class: `status-dot status-${status}` }) : null,
  );
}

// ------------------------------------------------------------------ toasts

/**
 * Show a toast. kind: info | success | error | warning | notification |
 * broadcast-<type> | token_expiring. Returns {el, close}.
 */
export function toast(area, { title, body = '', kind = 'info', actions = [], timeout = 6000, testid = 'toast' } = {}) {
  let timer = null;
  const close = () => {
    if (timer) clearTimeout(timer);
    el.classList.add('leaving');
    setTimeout(() => el.remove(), 180);
  };
  const el = h(
    'div',
    { class: `toast toast-${kind.split('-')[0]} ${kind}`, role: kind === 'error' ? 'alert' : 'status', testid, dataset: { kind } },
    h('div', { class: 'toast-text' }, title ? h('strong', { class: 'toast-title' }, title) : null, body ? h('div', { class: 'toast-body' }, body) : null),
    actions.length
      ? h(
          'div',
          { class: 'toast-actions' },
          actions.map((a) =>
            h('button', { type: 'button', class: 'btn btn-small', testid: a.testid, onclick: () => { a.onClick?.(); if (a.close !== false) close(); } }, a.label),
          ),
        )
      : null,
    h('button', { type: 'button', class: 'toast-close', 'aria-label': `Dismiss${title ? ` “${title}”` : ''}`, testid: 'toast-close', onclick: close }, icon('close')),
  );
  area.append(el);
  while (area.children.length > 6) area.firstElementChild.remove();
  if (timeout) timer = setTimeout(close, timeout);
  return { el, close };
}

// ------------------------------------------------------------------ header

/** Who is here; `stale`: this page is not connected, so the list is what was last known and
 * says so in words too (the fade alone is colour). */
export function renderMembers(listEl, room, selfId, looks = {}, { stale = false } = {}) {
  const members = [...(room?.members || [])].sort((a, b) => (a.userId === selfId ? -1 : b.userId === selfId ? 1 : 0));
  replaceChildren(
    listEl,
    members.length === 0 ? h('li', { class: 'muted small' }, room?.joined ? 'Only hidden viewers' : '—') : null,
    members.map((m) => {
      const name = m.name || room.names[m.userId] || null;
      const known = STATUS_WORDS[m.status] ?? m.status;
      const status = stale ? `last seen ${known}` : known;
      const label = `${displayName(m.userId, { [m.userId]: name }, selfId)} · ${status}`;
      return h(
        'li',
        { class: 'member', testid: `member-${m.userId}`, dataset: { status: m.status, userId: m.userId }, title: label },
        avatar(m.userId, name, { status: m.status, title: label, look: looks[m.userId] }),
        h('span', { class: 'member-text' },
          h('span', { class: 'member-name' }, m.userId === selfId ? 'You' : name || 'Someone'),
          h('span', { class: `member-status status-text-${m.status}` }, status),
        ),
      );
    }),
  );
}

export function renderCollaborators(listEl, trip, names, selfId, { canManage, onRemove, looks = {} }) {
  if (!trip) return replaceChildren(listEl);
  const owner = trip.ownerId;
  const ids = [owner, ...trip.collaborators.filter((u) => u !== owner)].filter(Boolean);
  replaceChildren(
    listEl,
    ids.map((userId) => {
      const name = displayName(userId, names, selfId);
      return h(
        'li',
        { class: 'collaborator', testid: `collaborator-${userId}` },
        avatar(userId, names[userId], { size: 'sm', look: looks[userId] }),
        h('span', { class: 'collab-name' }, name),
        userId === owner ? h('span', { class: 'tag tag-owner' }, 'organiser') : null,
        canManage && userId !== owner
          ? h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Remove ${names[userId] || 'this person'} from the trip`, testid: `remove-collaborator-${userId}`, onclick: () => onRemove(userId) }, icon('close'))
          : null,
      );
    }),
  );
}

// ------------------------------------------------------------------- board

function activityEditor(activity, mode, handlers, currency = null) {
  const id = activity.activityId;
  const save = (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget.closest('form');
    const get = (name) => form.elements.namedItem(name)?.value ?? '';
    const values = mode === 'rename'
      ? { title: get('title') }
      : { title: get('title'), startTime: get('startTime'), endTime: get('endTime'), location: get('location'), notes: get('notes'), cost: get('cost') };
    handlers.saveActivity(id, values);
  };
  const cancel = () => handlers.cancelEdit();
  const onKey = (ev) => {
    if (ev.key === 'Escape') cancel();
  };
  const title = h('input', { name: 'title', class: 'input', testid: `activity-title-input-${id}`, value: activity.title ?? '', maxlength: 200, required: true, 'aria-label': `Title of “${activity.title ?? ''}”`, onkeydown: onKey });
  const fields = mode === 'rename'
    ? [title]
    : [
        h('label', { class: 'field' }, 'Title', title),
        h('div', { class: 'field-row' },
          h('label', { class: 'field' }, 'Start', h('input', { name: 'startTime', type: 'time', class: 'input', testid: `activity-start-input-${id}`, value: activity.startTime ?? '', onkeydown: onKey })),
          h('label', { class: 'field' }, 'End', h('input', { name: 'endTime', type: 'time', class: 'input', testid: `activity-end-input-${id}`, value: activity.endTime ?? '', onkeydown: onKey })),
          h('label', { class: 'field' }, costLabel(currency), h('input', { name: 'cost', type: 'number', min: 0, step: 'any', class: 'input', testid: `activity-cost-input-${id}`, value: activity.cost ?? '', onkeydown: onKey })),
        ),
        h('label', { class: 'field' }, 'Location', h('input', { name: 'location', class: 'input', maxlength: 200, testid: `activity-location-input-${id}`, value: activity.location ?? '', onkeydown: onKey })),
        h('label', { class: 'field' }, 'Notes', h('textarea', { name: 'notes', class: 'input', rows: 2, maxlength: 2000, testid: `activity-notes-input-${id}`, value: activity.notes ?? '', onkeydown: onKey })),
      ];
  return h(
    'form',
    { class: `activity-editor mode-${mode}`, onsubmit: save, testid: `activity-editor-${id}` },
    fields,
    h('div', { class: 'editor-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary btn-small', testid: `activity-save-${id}` }, 'Save'),
      h('button', { type: 'button', class: 'btn btn-ghost btn-small', testid: `activity-cancel-${id}`, onclick: cancel }, 'Cancel'),
    ),
  );
}

const SYNC_WORDS = { added: 'not synced yet', changed: 'not synced yet', removed: 'removal not synced yet' };

/** Marks drawn on an item: not synced yet, someone else's fresh change, who has it open. */
function itemBadges(id, ui) {
  const mark = ui.marks?.[id];
  const flash = ui.flashes?.[id];
  const viewers = ui.viewers?.[id] || [];
  return [
    mark ? h('span', { class: 'sync-badge', testid: `unsynced-${id}` }, icon('clock'), SYNC_WORDS[mark]) : null,
    flash ? h('span', { class: 'flash-badge', testid: `changed-by-${id}`, style: { '--flash': flash.color } }, `${flash.who} · just now`) : null,
    viewers.length
      ? h('span', { class: 'viewers', testid: `viewers-${id}` },
          viewers.map((v) => avatar(v.userId, v.name, { size: 'xs', look: v.look, title: `${v.name} has this open` })),
          h('span', { class: 'sr-only' }, `${viewers.map((v) => v.name).join(', ')} ${viewers.length === 1 ? 'has' : 'have'} this open`),
        )
      : null,
  ];
}

function itemClass(base, id, ui) {
  return `${base}${ui.marks?.[id] ? ' is-unsynced' : ''}${ui.flashes?.[id] ? ' flash' : ''}`;
}

function activityItem(activity, day, days, ui, handlers) {
  const id = activity.activityId;
  const editing = ui.editing && ui.editing.activityId === id ? ui.editing.mode : null;
  const time = activity.startTime ? `${activity.startTime}${activity.endTime ? `–${activity.endTime}` : ''}` : '';
  const others = days.filter((d) => d.dayId !== day.dayId);
  const what = `“${activity.title}”`;
  const menuOpen = ui.menu === id;
  return h(
    'li',
    {
      class: `${itemClass('activity', id, ui)}${editing ? ' is-editing' : ''}${menuOpen ? ' menu-open' : ''}`,
      testid: `activity-${id}`,
      draggable: editing ? null : 'true', // js/drag.js: drop on another day to move it
      dataset: { activityId: id, dayId: day.dayId, sync: ui.marks?.[id] ? 'pending' : null },
      style: ui.flashes?.[id] ? { '--flash': ui.flashes[id].color } : null,
    },
    h('div', { class: 'activity-time' }, time || h('span', { class: 'muted' }, 'any time')),
    h(
      'div',
      { class: 'activity-main' },
      editing === 'rename'
        ? activityEditor(activity, 'rename', handlers, ui.money?.currency)
        : h('div', { class: 'activity-title', testid: `activity-title-${id}` }, activity.title),
      editing !== 'rename'
        ? h('div', { class: 'activity-meta' },
            activity.location ? h('span', { class: 'meta' }, icon('pin'), activity.location) : null,
            typeof activity.cost === 'number' ? h('span', { class: 'meta', testid: `activity-cost-${id}` }, icon('coin'), formatMoney(activity.cost, ui.money?.currency)) : null,
            itemBadges(id, ui),
          )
        : null,
      activity.notes && editing !== 'edit' ? h('p', { class: 'activity-notes' }, activity.notes) : null,
      editing === 'edit' ? activityEditor(activity, 'edit', handlers, ui.money?.currency) : null,
    ),
    h('button', {
      type: 'button',
      class: 'icon-btn menu-toggle',
      testid: `activity-menu-${id}`,
      'aria-expanded': menuOpen ? 'true' : 'false',
      'aria-label': `Actions for ${what}`,
      onclick: () => handlers.toggleMenu(id),
    }, icon('more')),
    h(
      'div',
      { class: 'activity-actions' },
      h('button', { type: 'button', class: 'btn btn-ghost btn-small', testid: `rename-activity-${id}`, 'aria-label': `Rename ${what}`, onclick: () => handlers.editActivity(id, 'rename') }, 'Rename'),
      h('button', { type: 'button', class: 'btn btn-ghost btn-small', testid: `edit-activity-${id}`, 'aria-label': `Details of ${what}`, onclick: () => handlers.editActivity(id, 'edit') }, 'Details'),
      others.length
        ? h(
            'select',
            {
              class: 'select select-small',
              testid: `move-activity-${id}`,
              'aria-label': `Move ${what} to another day`,
              onchange: (ev) => {
                const select = ev.currentTarget;
                const to = select.value;
                select.value = '';
                if (to) handlers.moveActivity(id, to);
              },
            },
            h('option', { value: '', selected: true }, 'Move to…'),
            others.map((d) => h('option', { value: d.dayId }, `${formatDay(d.date)}${d.title ? ` · ${d.title}` : ''}`)),
          )
        : null,
      h('button', { type: 'button', class: 'btn btn-danger-ghost btn-small', testid: `remove-activity-${id}`, 'aria-label': `Remove ${what}`, onclick: () => handlers.removeActivity(id) }, 'Remove'),
    ),
  );
}

/** "Cost in EUR" once the trip's budget names a currency, else "Cost". */
const costLabel = (currency) => (currency ? `Cost in ${currency}` : 'Cost');
/** The short form for a narrow field's placeholder: "Cost €". */
function costHint(currency) {
  try {
    const symbol = currency ? new Intl.NumberFormat('en-GB', { style: 'currency', currency }).formatToParts(0).find((p) => p.type === 'currency')?.value : null;
    return symbol ? `Cost ${symbol}` : 'Cost';
  } catch {
    return 'Cost';
  }
}

function addActivityForm(day, handlers, currency = null) {
  const id = day.dayId;
  const on = formatDay(day.date); // each day's form names its day: the fields of two days never share a name
  return h(
    'form',
    {
      class: 'add-activity',
      testid: `add-activity-form-${id}`,
      onsubmit: (ev) => {
        ev.preventDefault();
        const f = ev.currentTarget;
        const get = (n) => f.elements.namedItem(n).value;
        const ok = handlers.addActivity(id, {
          title: get('title'),
          startTime: get('startTime'),
          endTime: get('endTime'),
          location: get('location'),
          cost: get('cost'),
        });
        // Adding redraws the day, and the redraw keeps what its fields held: empty the form now on screen too.
        if (ok) for (const form of new Set([f, $(`add-activity-form-${id}`)])) for (const el of form?.querySelectorAll('input') ?? []) el.value = '';
      },
    },
    h('input', { name: 'title', class: 'input grow', placeholder: 'Add an activity…', maxlength: 200, testid: `add-activity-title-${id}`, 'aria-label': `New activity on ${on}` }),
    h('input', { name: 'startTime', type: 'time', class: 'input time', testid: `add-activity-start-${id}`, 'aria-label': `Start time (new activity on ${on})` }),
    h('input', { name: 'endTime', type: 'time', class: 'input time', testid: `add-activity-end-${id}`, 'aria-label': `End time (new activity on ${on})` }),
    h('input', { name: 'location', class: 'input', placeholder: 'Location', maxlength: 200, testid: `add-activity-location-${id}`, 'aria-label': `Location (new activity on ${on})` }),
    h('input', { name: 'cost', type: 'number', min: 0, step: 'any', class: 'input cost', placeholder: costHint(currency), testid: `add-activity-cost-${id}`, 'aria-label': `${costLabel(currency)} (new activity on ${on})` }),
    h('button', { type: 'submit', class: 'btn btn-primary btn-small', testid: `add-activity-${id}`, 'aria-label': `Add the activity to ${on}` }, 'Add'),
  );
}

export function renderDays(listEl, trip, ui, handlers) {
  preserving(listEl, () => {
    if (!trip) return replaceChildren(listEl);
    const days = sortDays(trip.days);
    const money = ui.money;
    replaceChildren(
      listEl,
      days.length === 0 ? h('li', { class: 'empty-state', testid: 'day-list-empty' }, 'No days yet. Add the first day below.') : null,
      days.map((day, i) => {
        const acts = sortActivities(day.activities);
        const sums = money?.days?.[day.dayId];
        const dayName = `${formatDay(day.date)}${day.title ? ` (${day.title})` : ''}`;
        const removeLabel = acts.length ? `Remove ${dayName} and its ${acts.length === 1 ? 'activity' : `${acts.length} activities`}` : `Remove ${dayName}`;
        return h(
          'li',
          {
            class: `${itemClass('day', day.dayId, ui)}${sums?.over ? ' is-over' : ''}`,
            testid: `day-${day.dayId}`,
            dataset: { dayId: day.dayId, date: day.date, sync: ui.marks?.[day.dayId] ? 'pending' : null },
            style: ui.flashes?.[day.dayId] ? { '--flash': ui.flashes[day.dayId].color } : null,
          },
          h(
            'header',
            { class: 'day-head' },
            h('span', { class: 'day-index' }, `Day ${i + 1}`),
            h('div', { class: 'day-titles' },
              h('h3', { class: 'day-date', testid: `day-date-${day.dayId}` }, formatDay(day.date)),
              day.title ? h('span', { class: 'day-title', testid: `day-title-${day.dayId}` }, day.title) : null,
              itemBadges(day.dayId, ui),
            ),
            sums && (sums.total > 0 || money.dailyLimit !== null)
              ? h('span', { class: `day-total${sums.over ? ' over' : ''}`, testid: `day-total-${day.dayId}` },
                  formatMoney(sums.total, money.currency),
                  money.dailyLimit !== null ? h('span', { class: 'day-limit' }, sums.over ? ` · over the ${formatMoney(money.dailyLimit, money.currency)} daily limit` : ` of ${formatMoney(money.dailyLimit, money.currency)}`) : null,
                  sums.over ? h('span', { class: 'sr-only' }, ' (warning)') : null,
                )
              : null,
            h('button', { type: 'button', class: 'icon-btn', title: removeLabel, 'aria-label': removeLabel, testid: `remove-day-${day.dayId}`, onclick: () => handlers.removeDay(day.dayId) }, icon('trash')),
          ),
          h(
            'ul',
            { class: 'activity-list', testid: `activity-list-${day.dayId}`, 'aria-label': `Activities on ${dayName}` },
            acts.length === 0 ? h('li', { class: 'muted small empty-acts' }, 'Nothing planned yet.') : null,
            acts.map((a) => activityItem(a, day, days, ui, handlers)),
          ),
          addActivityForm(day, handlers, money?.currency),
        );
      }),
    );
  });
}

export function renderConstraints(listEl, trip, handlers, ui = {}) {
  if (!trip) return replaceChildren(listEl);
  const cs = trip.constraints || [];
  replaceChildren(
    listEl,
    cs.length === 0 ? h('li', { class: 'muted small' }, 'Nothing yet: add a budget, a daily limit, dietary needs or a pace.') : null,
    cs.map((c) => {
      const words = constraintWords(c);
      return h(
        'li',
        { class: itemClass('constraint', c.constraintId, ui), testid: `constraint-${c.constraintId}`, style: ui.flashes?.[c.constraintId] ? { '--flash': ui.flashes[c.constraintId].color } : null },
        h('span', { class: 'constraint-type' }, words.label),
        h('span', { class: 'constraint-value' }, words.text),
        c.description ? h('span', { class: 'constraint-desc' }, c.description) : null,
        itemBadges(c.constraintId, ui),
        h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Remove ${words.label.toLowerCase()} ${words.text}`, testid: `remove-constraint-${c.constraintId}`, onclick: () => handlers.removeConstraint(c.constraintId) }, icon('close')),
      );
    }),
  );
}

/** Queued / in-flight changes of the open trip. */
export function renderOutbox(listEl, entries, handlers, now = Date.now()) {
  const trips = entries.filter((e) => e.kind === 'trip' && !(e.notBefore > now && !e.everSent));
  listEl.hidden = trips.length === 0;
  replaceChildren(
    listEl,
    trips.map((e) =>
      h(
        'li',
        { class: 'outbox-item', testid: `outbox-${e.id}`, dataset: { ref: e.ref, sent: e.everSent ? 'yes' : 'no' } },
        icon('clock'),
        h('span', null, e.step > 0 ? `…then ${e.summaryStep || e.summary}` : e.summary),
        h('span', { class: 'muted small' }, e.everSent ? 'sending' : 'not synced yet'),
        !e.everSent && !(e.step > 0)
          ? h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Cancel: ${e.summary}`, testid: `outbox-cancel-${e.id}`, onclick: () => handlers.cancelQueued(e.id) }, icon('close'))
          : null,
      ),
    ),
  );
}

// -------------------------------------------------------------------- chat

const TYPE_LABEL = { text: '', suggestion: 'Suggestion', alert: 'Alert' };

export function renderChat(logEl, room, pending, failed, selfId, handlers) {
  const atBottom = logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 40;
  const msgs = room?.messages || [];
  const bubble = ({ key, testid, userId, name, message, type, timestamp, state, error, ref }) => {
    const mine = userId === selfId;
    return h(
      'li',
      { class: `msg msg-${type || 'text'}${mine ? ' mine' : ''}${state ? ` is-${state}` : ''}`, testid, dataset: { type: type || 'text', userId: userId || '', key, ref: ref || null } },
      mine ? null : avatar(userId, name, { size: 'sm', look: handlers.looks?.[userId] }),
      h(
        'div',
        { class: 'msg-body' },
        h('div', { class: 'msg-head' },
          h('span', { class: 'msg-author' }, mine ? 'You' : name || 'Someone'),
          TYPE_LABEL[type] ? h('span', { class: `msg-kind kind-${type}` }, icon(type === 'alert' ? 'alert' : 'bulb'), TYPE_LABEL[type]) : null,
          h('time', { class: 'msg-time', datetime: timestamp || '' }, state === 'pending' ? 'sending…' : state === 'queued' ? 'queued' : formatClock(timestamp)),
        ),
        h('div', { class: 'msg-text' }, message),
        error
          ? h('div', { class: 'msg-error' }, `Not sent: ${error} `,
              h('button', { type: 'button', class: 'link-btn', testid: `chat-failed-dismiss-${key}`, onclick: () => handlers.dismissFailed(key) }, 'Dismiss'))
          : null,
      ),
    );
  };
  replaceChildren(
    logEl,
    msgs.length === 0 && pending.length === 0 && failed.length === 0 ? h('li', { class: 'empty-state small', testid: 'chat-empty' }, 'No messages yet. Say hello.') : null,
    msgs.map((m) => bubble({ key: m.messageId, testid: `chat-message-${m.messageId}`, userId: m.userId, name: m.name || room.names[m.userId], message: m.message, type: m.type, timestamp: m.timestamp })),
    pending.map((e) =>
      bubble({ key: e.id, testid: `chat-pending-${e.id}`, userId: selfId, message: e.payload.message, type: e.payload.type, state: e.everSent ? 'pending' : 'queued', ref: e.ref }),
    ),
    failed.map((f) => bubble({ key: f.id, testid: `chat-failed-${f.id}`, userId: selfId, message: f.message, type: f.type, state: 'failed', error: f.error })),
  );
  if (atBottom || handlers.forceScroll) logEl.scrollTop = logEl.scrollHeight;
}

export function renderTyping(el, room, now, selfId) {
  const ids = typingUsers(room, now, selfId);
  const names = ids.map((id) => room.names[id] || 'Someone');
  const text = typingText(names);
  if (el.textContent !== text) el.textContent = text;
  el.classList.toggle('active', Boolean(text));
}

// ----------------------------------------------------------- notifications

const KIND_WORDS = { chat_message: 'Chat message', booking_update: 'Booking update', reminder: 'Reminder' };

/** A notification kind in words: booking_update -> Booking update. */
export function kindWords(kind) {
  if (!kind) return '';
  const words = KIND_WORDS[kind] ?? String(kind).replace(/_/g, ' ');
  return words[0].toUpperCase() + words.slice(1);
}

export function notificationText(n) {
  const kind = n.kind || 'notification';
  if (kind === 'chat_message') return { title: 'New chat message', body: n.preview || '' };
  if (kind === 'change_replaced') return changeNotificationText(n);
  if (kind === 'booking_update') return { title: n.title || 'Booking update', body: n.body || n.data?.status || '' };
  return { title: n.title || kindWords(kind), body: n.body || n.preview || n.message || '' };
}

export function renderNotifications(listEl, items, handlers) {
  replaceChildren(
    listEl,
    items.length === 0 ? h('li', { class: 'empty-state small' }, 'You are all caught up.') : null,
    items.map((n) => {
      const id = n.notificationId ?? n.id;
      const read = Boolean(n.read || n.readAt);
      const { title, body } = notificationText(n);
      return h(
        'li',
        { class: `notification${read ? ' is-read' : ''}`, testid: `notification-${id}`, dataset: { kind: n.kind || '', read: read ? 'true' : 'false' } },
        h('div', { class: 'notification-text' },
          h('strong', null, title),
          body ? h('p', null, body) : null,
          h('span', { class: 'muted small' }, [kindWords(n.kind), n.timestamp || n.createdAt ? formatClock(n.timestamp || n.createdAt) : null].filter(Boolean).join(' · ')),
        ),
        h('div', { class: 'notification-actions' },
          n.tripId ? h('button', { type: 'button', class: 'btn btn-ghost btn-small', testid: `notification-open-${id}`, onclick: () => handlers.openTrip(n.tripId) }, 'Open trip') : null,
          read ? h('span', { class: 'tag' }, 'read') : h('button', { type: 'button', class: 'btn btn-small', testid: `notification-read-${id}`, onclick: () => handlers.markRead(id) }, 'Mark read'),
        ),
      );
    }),
  );
}

// ----------------------------------------------------------------- money

/** The budget bar and its warning, from money.tripMoney. */
export function renderBudget(root, money) {
  const box = $('budget-summary', root);
  box.hidden = money.total === 0 && money.budget === null;
  $('trip-total', root).textContent = `${formatMoney(money.total, money.currency)} planned`;
  $('budget-of', root).textContent = money.budget !== null ? `of a ${formatMoney(money.budget, money.currency)} budget` : '· no trip budget set (a budget sets the currency)';
  $('budget-fill', root).style.width = `${Math.min(100, Math.round((money.share ?? 0) * 100))}%`;
  box.classList.toggle('over', money.overTrip);
  const overDays = Object.values(money.days).filter((d) => d.over).length;
  const lines = [];
  if (money.overTrip) lines.push(`Over budget by ${formatMoney(money.total - money.budget, money.currency)}.`);
  if (overDays) lines.push(`${overDays === 1 ? 'One day goes' : `${overDays} days go`} over the daily limit.`);
  const warning = $('budget-warning', root);
  warning.hidden = lines.length === 0;
  warning.textContent = lines.length ? `Warning: ${lines.join(' ')}` : '';
}

// ---------------------------------------------------------------- people

/** Dev mode's demo people, each a button that signs in as them. */
export function renderPicker(listEl, people, onPick) {
  const looks = avatarLooks(people);
  replaceChildren(
    listEl,
    people.map((p) =>
      h('li', null,
        h('button', { type: 'button', class: 'person-btn', testid: `sign-in-as-${p.userId}`, onclick: () => onPick(p) },
          avatar(p.userId, p.name, { look: looks[p.userId] }),
          h('span', null, p.name),
        ),
      ),
    ),
  );
}

/** The people one can invite by name: everyone known who is not on the trip yet. */
export function renderInvite(select, trip, people) {
  const members = new Set([trip.ownerId, ...trip.collaborators]);
  const choices = Object.entries(people).filter(([userId]) => !members.has(userId)).sort((a, b) => a[1].localeCompare(b[1]));
  const was = select.value;
  replaceChildren(
    select,
    h('option', { value: '' }, choices.length ? 'Choose a person…' : 'Everyone known is already in'),
    choices.map(([userId, name]) => h('option', { value: userId }, name)),
  );
  if (choices.some(([userId]) => userId === was)) select.value = was;
}

/** Recent trips as chips: open one, or forget it. */
export function renderRecentTrips(listEl, list, activeId, { open, forget }) {
  replaceChildren(
    listEl,
    list.length === 0 ? h('li', { class: 'muted small' }, 'Trips you open or create appear here.') : null,
    list.map((t) =>
      h(
        'li',
        { class: `chip${activeId === t.tripId ? ' active' : ''}` },
        h('button', { type: 'button', class: 'chip-main', testid: `trip-link-${t.tripId}`, onclick: () => open(t.tripId) }, t.title || 'Untitled trip'),
        h('button', { type: 'button', class: 'chip-x', testid: `trip-forget-${t.tripId}`, 'aria-label': `Forget ${t.title || 'this trip'} in recent trips`, onclick: () => forget(t.tripId) }, icon('close')),
      ),
    ),
  );
}
