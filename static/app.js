/*
 * TravelSense Realtime web client: entry module, served as /static/app.js by
 * /static/index.html (itself served at GET /). Plain ES modules, no build step,
 * no external URLs.
 *
 * Modules
 *   js/protocol.js  close codes, error codes, event names (contract constants)
 *   js/util.js      JWT decoding, refs, ids, avatars, formatting (pure)
 *   js/state.js     pure reducers: server events -> room/trip state; intent -> trip_update payloads
 *   js/socket.js    ReconnectingSocket (back-off + jitter) and Outbox (ref-keyed, idempotent resend)
 *   js/api.js       REST client
 *   js/ui.js        DOM helpers and renderers
 *   js/admin.js     admin panel (connections every 5 s, broadcast, notify, disconnect)
 *   js/notifications.js  notification toasts, unread badge, drawer
 *   js/conflict.js  CONFLICT panel content; js/conflict-panel.js  the CONFLICTs held, the panel, focus in and out
 *   js/words.js     field names, days and constraints in plain words (pure)
 *   js/recent.js    recent trip ids per user in localStorage
 *   js/pending.js   unsent edits drawn in place and kept in localStorage across reloads
 *   js/money.js     typed constraints, day and trip totals, budget checks
 *   js/rules.js     time and date checks made before sending
 *   js/people.js    distinct avatars, names instead of ids
 *   js/changes.js   others' changes in words (flashes, announcements)
 *   js/icons.js     inline SVG icons
 *   js/signals.js   who has which item open, others' fresh changes (pure)
 *   js/connection-view.js  the connection pill, the offline, reconnect and session banners
 *   js/drafts.js, js/constraint-form.js, js/dialogs.js, js/connectivity.js, js/token-dialog.js  small view helpers
 *
 * The data-testid hooks the browser tests use are listed in static/README.md.
 */

import { ClientEvent, ServerEvent, ErrorCode, RETRY_WITH_NEW_REF, LIMITS, DATE_RE } from './js/protocol.js';
import { ConnectionView, reconnectWords } from './js/connection-view.js';
import {
  describeToken,
  newRef,
  isObjectId,
  backoffDelay,
  formatClock,
  nextDate,
  newObjectId,
} from './js/util.js';
import {
  createRoom,
  reduceRoom,
  applyHistory,
  normalizeTrip,
  planUpdates,
  describeIntent,
  canRebase,
  findActivity,
  sortDays,
  leftUsers,
} from './js/state.js';
import { Outbox, ReconnectingSocket } from './js/socket.js';
import { mustJoin, remember, resumeQuery } from './js/resume.js';
import { Api, ApiError } from './js/api.js';
import { plainText, detailsWords } from './js/words.js';
import {
  h,
  $,
  replaceChildren,
  avatar,
  toast,
  renderMembers,
  renderCollaborators,
  renderBudget,
  renderRecentTrips,
  renderPicker,
  renderInvite,
  renderDays,
  renderConstraints,
  renderOutbox,
  renderChat,
  renderTyping,
} from './js/ui.js';
import { AdminPanel } from './js/admin.js';
import { NotificationCenter } from './js/notifications.js';
import { conflictView } from './js/conflict.js';
import { ConflictPanel } from './js/conflict-panel.js';
import { RecentTrips } from './js/recent.js';
import { TokenDialog } from './js/token-dialog.js';
import { boardActions } from './js/board-actions.js';
import { pendingView, outboxEntries, outboxToStore, outboxFromStore, LocalKeep } from './js/pending.js';
import { tripMoney } from './js/money.js';
import { ConstraintForm } from './js/constraint-form.js';
import { Drafts } from './js/drafts.js';
import { confirmDialog, announce as say } from './js/dialogs.js';
import { Connectivity } from './js/connectivity.js';
import { viewingAfter, without, expired, viewersByItem as viewersOf, flashAfter, viewingDue } from './js/signals.js';
import { dateProblem } from './js/rules.js';
import { avatarLooks, colorOf, nameOf } from './js/people.js';
import { othersChange } from './js/changes.js';
import { wireCollab } from './js/collab-page.js';
import { CHAT_CHANGE_EVENTS, mentionsIn, newestSeq, reduceChatChange, unreadCount } from './js/chat-changes.js';
import { ChatChanges, chatActions, renderUnread } from './js/chat-view.js';

const KEY = {
  token: 'ts.token',
  hidden: 'ts.hiddenPresence',
  presence: 'ts.presence',
  openTrip: 'ts.openTrip',
  invite: 'ts.invite', // an invite link's, kept until signed in
};
const ACK_TIMEOUT_MS = 15_000;
const MAX_ATTEMPTS = 6;
const TYPING_IDLE_MS = 2000;
const TYPING_REPEAT_MS = 3000;
const HISTORY_LIMIT = 50;
const UNDO_MS = 6000; // a removal waits this long for "Undo" before it is sent
const FLASH_MS = 5000;
const HEARTBEAT_MS = 5000;
const VIEWING_REPEAT_MS = 20_000;
const VIEWING_TTL_MS = 45_000;

// ------------------------------------------------------------------- state

const S = {
  token: null,
  me: null, // {sub, name, role, isAdmin, expiresAt}
  room: null, // state.js room of the open trip
  chatRead: null, // {tripId, readSeq}: how far this user has read the open trip's chat
  roomError: null,
  joinRef: null,
  joinedConn: null, // connId on which the open room was joined
  readyConn: null, // connId on which `connected` arrived
  outbox: new Outbox(),
  presence: 'online',
  hidden: false,
  failedChats: [],
  editing: null, // {activityId, mode: 'rename' | 'edit'}
  refreshRef: null,
  pendingToken: null,
  expiringToast: null,
  lastRepair: 0,
  dropCode: null, // close code of the last drop, until connected again
  offline: false, // the browser says so, or the heartbeat went unanswered
  people: {}, // userId -> name, from GET /api/people
  flashes: {}, // itemId -> {userId, who, color, until}: others' fresh changes
  menu: null, // activityId whose action menu is open (phone)
  viewing: {}, // userId -> {itemId, until}: what others have open
  myViewing: { itemId: null, sentAt: 0 }, // what this page last told the room
  outboxRev: 0,
  outboxStored: null, // the outbox as last stored
};
const keep = new LocalKeep(globalThis.localStorage);
const drafts = new Drafts(keep);
let constraintForm = null;
let tokenDialog = null;
let conflictPanel = null; // js/conflict-panel.js: the CONFLICTs answered, and the panel showing them
let conn = null; // js/connection-view.js: the connection pill and banners
let collab = null; // js/collab-page.js: undo/redo keys, replaced values, history
let connectivity = null;

const api = new Api(() => S.token);
const recent = new RecentTrips();
let socket = null;
let admin = null;
let notes = null;
let el = {};

// ------------------------------------------------------------------ helpers

const store = {
  get: (area, k) => {
    try {
      return area.getItem(k);
    } catch {
      return null;
    }
  },
  set: (area, k, v) => {
    try {
      if (v === null || v === undefined) area.removeItem(k);
      else area.setItem(k, v);
    } catch {
      /* storage disabled: keep going in memory */
    }
  },
};

function notify(opts) {
  return toast(el.toastArea, opts);
}

function errorToast(title, err) {
  const body = [plainText(err?.message), err?.details ? detailsWords(err.details) : ''].filter(Boolean).join(' — ');
  notify({ kind: 'error', title, body, timeout: 8000 });
}

function names() {
  const map = { ...S.people, ...(S.room?.names || {}) };
  if (S.me) map[S.me.sub] = S.me.name || map[S.me.sub];
  return map;
}

function socketReady() {
  return Boolean(socket && socket.isOpen && S.readyConn === socket.connId);
}

function roomReady() {
  return Boolean(socketReady() && S.room?.joined && S.joinedConn === socket.connId);
}

// ----------------------------------------------------------------- sign in

function showSignIn(message = '') {
  el.signin.hidden = false;
  el.workspace.hidden = true;
  for (const x of document.querySelectorAll('[data-signed-in]')) x.hidden = true;
  $('phone-tabs').hidden = true;
  el.userChip.hidden = true;
  el.signinError.hidden = !message;
  el.signinError.textContent = message;
  setStatus('offline', 'offline');
  loadPicker();
}

/** Dev mode: a list of demo people to sign in as (the endpoint is 404 elsewhere). */
async function loadPicker() {
  let people = [];
  try {
    people = (await api.devPeople())?.people || [];
  } catch {
    people = [];
  }
  $('person-picker').hidden = people.length === 0;
  $('token-signin').open = people.length === 0;
  renderPicker($('person-list'), people, signInAs);
}

async function signInAs(person) {
  try {
    const res = await api.devSignIn(person.userId);
    const pending = new URL(location.href).searchParams.get('trip');
    signIn(res.token, { tripId: pending });
  } catch (err) {
    showSignIn(`Could not sign in as ${person.name}: ${err.message}`);
  }
}

function signIn(token, { tripId = null } = {}) {
  let info;
  try {
    info = describeToken(token);
  } catch (err) {
    showSignIn(err.message);
    return false;
  }
  if (!info.sub) {
    showSignIn('This token has no "sub" claim (the user id).');
    return false;
  }
  if (info.expired) {
    showSignIn(`This token expired at ${new Date(info.expiresAt).toLocaleString()}. Ask for a fresh one.`);
    return false;
  }
  const sameUser = S.me && S.me.sub === info.sub;
  if (!sameUser) {
    // A different person: nothing of the previous one's may leak or be sent.
    S.outbox.clear();
    conflictPanel.clear();
    S.failedChats = [];
    S.room = null;
    notes.reset();
  }
  S.token = token.trim();
  S.me = info;
  if (!sameUser || S.outbox.size === 0) {
    // Edits not synced before a reload (or a crash) come back, under the same refs.
    S.outbox.entries = outboxFromStore(keep.read(info.sub, 'outbox', []));
  }
  recent.forUser(info.sub);
  store.set(sessionStorage, KEY.token, S.token);

  el.signin.hidden = true;
  el.workspace.hidden = false;
  for (const x of document.querySelectorAll('[data-signed-in]')) x.hidden = false;
  $('phone-tabs').hidden = false;
  conn.clearSession();
  renderUserChip();
  renderRecent();

  if (info.isAdmin) admin.start();
  else admin.hide();

  if (socket.stopped) socket.start();
  else socket.restart();

  notes.refreshUnread();
  loadPeople();
  const invite = store.get(sessionStorage, KEY.invite);
  const target = tripId || (sameUser ? S.room?.tripId : null);
  if (invite) joinByInvite(invite);
  else if (target) openTrip(target);
  renderAll();
  return true;
}

function signOut() {
  stopTyping();
  socket.stop();
  admin.hide();
  S.token = null;
  S.me = null;
  S.room = null;
  drafts.forgetRestored();
  S.outbox.clear();
  conflictPanel.clear();
  S.failedChats = [];
  notes.reset();
  store.set(sessionStorage, KEY.token, null);
  store.set(sessionStorage, KEY.openTrip, null);
  setTripInUrl(null);
  el.tokenInput.value = '';
  showSignIn();
  renderAll();
}

function renderUserChip() {
  const me = S.me;
  if (!me) return;
  el.userChip.hidden = false;
  replaceChildren(
    el.userChip,
    // the dot says what others see: nothing of me while this page is not connected
    avatar(me.sub, me.name, { size: 'sm', status: S.hidden ? 'hidden' : socketReady() ? S.presence : 'offline', look: currentLooks()[me.sub] }),
    h('span', { class: 'user-text' },
      h('span', { class: 'user-name', testid: 'user-name' }, me.name || 'You'),
    ),
    me.isAdmin ? h('span', { class: 'tag tag-admin', testid: 'user-role' }, 'admin') : h('span', { testid: 'user-role', hidden: true }, 'user'),
    S.hidden ? h('span', { class: 'tag', title: 'Your presence is hidden' }, 'hidden') : null,
  );
}

// ------------------------------------------------------------------- socket

/** The socket's address with a single-use ticket: the long-lived token never goes in a URL. */
async function wsUrl() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  // A ticket is good on any node, once: the upgrade may land on any node behind a balancer.
  const qs = new URLSearchParams({ ticket: (await api.ticket()).ticket });
  if (S.hidden) qs.set('presence', 'hidden');
  for (const [key, value] of Object.entries(resumeQuery(S.resume, S.room))) qs.set(key, value);
  return `${proto}://${location.host}/ws?${qs}`;
}

async function beforeReconnect({ attempt }) {
  if (!S.token || !S.me) return false;
  if (S.me.expiresAt && S.me.expiresAt <= Date.now()) return false;
  if (attempt >= 2) {
    // A refused upgrade looks like a plain drop; ask REST whether the token is the problem.
    try {
      await api.notifications({ unread: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return false;
    }
  }
  return true;
}

function setStatus(kind, state) {
  conn.status(kind, state, S.offline);
}

function onSocketState(state, detail = {}) {
  if (state !== 'open') {
    if (S.room) S.room = { ...S.room, joined: false, members: S.room.members, typing: {} };
    S.joinedConn = null;
    S.readyConn = null;
    typing.active = false;
  }
  switch (state) {
    case 'connecting':
      setStatus('offline', 'connecting');
      break;
    case 'open':
      break; // ready once the `connected` frame arrives
    case 'reconnecting':
      setStatus('reconnecting', 'reconnecting');
      // Why the connection dropped; failed attempts after it (1006) do not change that.
      if (S.dropCode === null && detail.code !== undefined) S.dropCode = detail.code;
      updateReconnectText();
      break;
    case 'expired':
      setStatus('offline', 'expired');
      S.expiringToast?.close(); // "ending" is over: the banner below says what to do now
      S.expiringToast = null;
      conn.session('expired', () => tokenDialog.renewOrOpen('expired'));
      break;
    case 'kicked':
    case 'replaced':
      setStatus('offline', state === 'kicked' ? 'kicked' : 'offline');
      conn.session(state, () => {
        conn.clearSession();
        socket.start();
      });
      break;
    case 'stopped':
      S.dropCode = null;
      setStatus('offline', 'offline');
      conn.settled();
      break;
    default:
      break;
  }
  renderHeader();
  renderChatPanel();
}

function updateReconnectText() {
  const left = Math.max(0, Math.ceil((socket.nextAttemptAt - Date.now()) / 1000));
  conn.reconnecting(reconnectWords(S.dropCode, left, S.outbox.size));
}

function sendJoin() {
  if (!S.room || !socketReady()) return;
  S.joinRef = newRef('j');
  const data = { tripId: S.room.tripId };
  if (S.room.lastSeq > 0) data.lastSeq = S.room.lastSeq;
  socket.send({ event: ClientEvent.JOIN, data, ref: S.joinRef });
}

function flush() {
  if (!socketReady()) return;
  const connId = socket.connId;
  const ready = (tripId) => S.room?.tripId === tripId && S.room.joined && S.joinedConn === connId;
  for (const entry of S.outbox.takeSendable(connId, ready, Date.now())) socket.send(Outbox.frameOf(entry));
  renderOutboxList();
}

// ------------------------------------------------------------ frame routing

function reduce(frame) {
  if (!S.room) return { ignored: true };
  const { room, info } = reduceRoom(S.room, frame, { now: Date.now(), selfId: S.me?.sub });
  S.room = room;
  return info;
}

function onFrame(frame, connId) {
  if (!socket || connId !== socket.connId) return; // a stale connection
  const { event, ref } = frame;
  const data = frame.data && typeof frame.data === 'object' ? frame.data : {};
  switch (event) {
    case ServerEvent.CONNECTED:
      S.readyConn = connId;
      S.dropCode = null;
      S.offline = false;
      connectivity.heard();
      setStatus('connected', 'connected');
      conn.settled();
      conn.clearSession();
      S.resume = remember(data);
      if (S.room && mustJoin(data, S.room.tripId)) sendJoin(); // a resumed session has its room back
      notes.refreshUnread();
      renderHeader();
      renderChatPanel();
      break;

    case ServerEvent.ROOM_JOINED: {
      if (!S.room || data.tripId !== S.room.tripId) break;
      reduce(frame);
      S.joinedConn = connId;
      S.roomError = null;
      if (S.presence !== 'online') sendPresence();
      renderHeader();
      renderBoard();
      flush();
      break;
    }

    case ServerEvent.TRIP_UPDATED: {
      const before = S.room?.trip ?? null;
      const info = reduce(frame);
      if (info.applied && !info.snapshot) noticeOthers(before, data);
      if (info.applied && !info.snapshot) collab.tripUpdated(data);
      if (ref) onAck(ref, data);
      if (info.snapshot) {
        rememberTrip(S.room.tripId, S.room.trip.title);
        loadHistory();
      }
      if (info.gap) repairFromRest();
      if (!info.ignored && !info.duplicate) {
        renderBoard();
        renderHeader();
        conflictPanel.render();
      }
      break;
    }

    case ServerEvent.CHAT: {
      const info = reduce(frame);
      if (ref) onAck(ref, data);
      if (info.gap) repairFromRest();
      renderChatPanel({ forceScroll: data.userId === S.me?.sub });
      renderTypingNow();
      renderHeader();
      if (info.applied && data.userId !== S.me?.sub && el.workspace.dataset.tab !== 'chat') countUnseenChat();
      break;
    }

    case CHAT_CHANGE_EVENTS[0]:
    case CHAT_CHANGE_EVENTS[1]:
    case CHAT_CHANGE_EVENTS[2]: {
      const { room, info } = reduceChatChange(S.room, frame);
      S.room = room;
      if (info.gap) repairFromRest();
      renderChatPanel();
      break;
    }

    case 'chat_read':
      if (S.room?.tripId === data.tripId) S.chatRead = { tripId: data.tripId, readSeq: Math.max(data.seq, readSeq()) };
      renderChatPanel();
      break;

    case ServerEvent.USER_JOINED:
    case ServerEvent.USER_LEFT:
    case ServerEvent.PRESENCE_SUMMARY:
    case ServerEvent.PRESENCE_UPDATED: {
      reduce(frame);
      const seen = leftUsers(frame).filter((userId) => S.viewing[userId]);
      if (seen.length) {
        for (const userId of seen) S.viewing = without(S.viewing, userId);
        renderBoard();
      }
      renderHeader();
      renderTypingNow();
      break;
    }

    case ServerEvent.USER_VIEWING:
      if (S.room && data.tripId === S.room.tripId && data.userId && data.userId !== S.me?.sub) {
        S.viewing = viewingAfter(S.viewing, data, { selfId: S.me?.sub, now: Date.now(), ttlMs: VIEWING_TTL_MS });
        if (data.name && S.room.names[data.userId] !== data.name) S.room = { ...S.room, names: { ...S.room.names, [data.userId]: data.name } };
        renderBoard();
      }
      break;

    case ServerEvent.USER_TYPING:
      reduce(frame);
      renderTypingNow();
      break;

    case ServerEvent.ROOM_LEFT: {
      const info = reduce(frame);
      if (info.revoked) {
        failTrip(S.room.tripId, 'You no longer have access to this trip.');
        S.roomError = { code: ErrorCode.FORBIDDEN, message: 'You were removed from this trip.' };
        notify({ kind: 'warning', title: 'Removed from trip', body: `You no longer have access to “${S.room.trip?.title ?? S.room.tripId}”.`, timeout: 10000 });
        renderAll();
      }
      break;
    }

    case ServerEvent.NOTIFICATION:
      notes.receive(data);
      break;

    case ServerEvent.BROADCAST: {
      const icons = { announcement: 'Announcement', alert: 'Alert', maintenance: 'Maintenance' };
      const type = data.type || 'announcement';
      notify({ kind: `broadcast-${type}`, title: icons[type] || 'Announcement', body: data.message, timeout: type === 'announcement' ? 10000 : 20000 });
      break;
    }

    case ServerEvent.TOKEN_EXPIRING: {
      S.expiringToast?.close();
      const at = data.expiresAt ? formatClock(data.expiresAt) : 'soon';
      S.expiringToast = notify({
        kind: 'token_expiring',
        title: 'Session ending',
        body: `Your sign-in ends at ${at}. Renew it to stay connected.`,
        timeout: 0,
        actions: [{ label: 'Stay signed in', testid: 'toast-refresh-token', onClick: () => tokenDialog.renewOrOpen('refresh') }],
      });
      break;
    }

    case ServerEvent.TOKEN_REFRESHED:
      if (ref && ref === S.refreshRef) {
        S.token = S.pendingToken;
        S.me = describeToken(S.token);
        store.set(sessionStorage, KEY.token, S.token);
        S.refreshRef = null;
        S.pendingToken = null;
        tokenDialog.close();
        S.expiringToast?.close();
        S.expiringToast = null;
        renderUserChip();
        notify({ kind: 'success', title: 'Session extended', body: data.expiresAt ? `Valid until ${formatClock(data.expiresAt)}.` : '' });
      }
      break;

    case ServerEvent.ERROR:
      onError(data, ref);
      break;

    default:
      break;
  }
}

/** The server answered one of our outbox frames with success. */
function onAck(ref, data) {
  const entry = S.outbox.ack(ref);
  if (!entry) return;
  if (entry.kind === 'trip') {
    const version = typeof data.version === 'number' ? data.version : typeof data.seq === 'number' ? data.seq : null;
    if (version !== null) {
      S.outbox.rebaseAfter(entry, version, (from, to) => canRebase(S.room, S.me?.sub, from, to));
    }
  }
  flush();
  renderOutboxList();
  renderChatPanel();
}

function onError(data, ref) {
  const code = data.code;
  const entry = ref ? S.outbox.byRef(ref) : null;
  if (entry) return onEntryError(entry, data);

  if (ref && ref === S.joinRef) {
    const messages = {
      [ErrorCode.TRIP_NOT_FOUND]: 'There is no trip with this id.',
      [ErrorCode.FORBIDDEN]: 'You do not have access to this trip.',
      [ErrorCode.VALIDATION_ERROR]: 'That is not a valid trip id.',
    };
    S.roomError = { code, message: messages[code] || data.message || code };
    if (code === ErrorCode.RATE_LIMITED || code === ErrorCode.UNAVAILABLE) {
      setTimeout(sendJoin, data.details?.retryAfterMs ?? 1500);
      return;
    }
    if (S.room) failTrip(S.room.tripId, S.roomError.message);
    renderAll();
    return;
  }
  if (ref && ref === S.refreshRef) {
    S.refreshRef = null;
    tokenDialog.error(code === ErrorCode.INVALID_TOKEN ? `The server refused that token: ${data.message || 'invalid'}.` : data.message || code);
    return;
  }
  if (data.event === ClientEvent.TYPING || data.event === ClientEvent.PRESENCE || data.event === ClientEvent.LEAVE) {
    if (code === ErrorCode.NOT_IN_ROOM && S.room && data.event !== ClientEvent.LEAVE) sendJoin();
    return; // ephemeral signals: nothing to tell the user
  }
  if (collab.refused(data)) return;
  if (code === ErrorCode.RATE_LIMITED) {
    notify({ kind: 'warning', title: 'Slow down a little', body: 'You are sending messages faster than the server allows.' });
    return;
  }
  errorToast('Server error', { message: `${code}: ${data.message || ''}`, details: code === ErrorCode.CONFLICT ? null : data.details });
}

function onEntryError(entry, data) {
  const code = data.code;
  if (RETRY_WITH_NEW_REF.has(code) && entry.attempts < MAX_ATTEMPTS) {
    // Refused before anything was accepted: safe to try again, under a fresh ref
    // (the old ref's cached answer would be this same refusal).
    const wait = data.details?.retryAfterMs ?? backoffDelay(entry.attempts, { cap: 8000 });
    S.outbox.retryWithNewRef(entry.ref, newRef('c'), Date.now() + wait);
    if (code === ErrorCode.NOT_IN_ROOM && S.room?.tripId === entry.tripId) {
      S.room = { ...S.room, joined: false };
      sendJoin();
    }
    renderOutboxList();
    return;
  }
  const res = S.outbox.fail(entry.ref);
  if (!res) return;
  if (entry.kind === 'chat') {
    S.failedChats.push({ id: entry.id, tripId: entry.tripId, message: entry.payload.message, type: entry.payload.type, error: data.message || code });
    renderChatPanel();
    return;
  }
  if (code === ErrorCode.CONFLICT) {
    conflictPanel.add({ id: newRef('x'), tripId: entry.tripId, entry, dropped: res.dropped, details: data.details || {}, message: data.message });
  } else {
    errorToast(`Could not ${entry.summary}`, { message: data.message || code, details: data.details });
  }
  flush();
  renderOutboxList();
}

/** Give up on everything queued for a trip (no access any more). */
function failTrip(tripId, reason) {
  for (const e of S.outbox.forTrip(tripId)) {
    S.outbox.fail(e.ref);
    if (e.kind === 'chat') S.failedChats.push({ id: e.id, tripId, message: e.payload.message, type: e.payload.type, error: reason });
  }
  renderOutboxList();
}

// -------------------------------------------------------------------- trips

function setTripInUrl(tripId) {
  const url = new URL(location.href);
  if (tripId) url.searchParams.set('trip', tripId);
  else url.searchParams.delete('trip');
  url.searchParams.delete('token');
  history.replaceState(null, '', url.pathname + (url.search ? url.search : '') + url.hash);
}

function openTrip(rawId) {
  const tripId = String(rawId ?? '').trim();
  if (!isObjectId(tripId)) {
    notify({ kind: 'error', title: 'Not a trip id', body: 'Trip ids are 24 hexadecimal characters.' });
    return;
  }
  if (S.room?.tripId === tripId && !S.roomError) {
    if (!S.room.joined) sendJoin();
    return;
  }
  if (S.room && S.room.tripId !== tripId && roomReady()) {
    stopTyping();
    socket.send({ event: ClientEvent.LEAVE, data: { tripId: S.room.tripId }, ref: newRef('l') });
  }
  S.room = createRoom(tripId);
  el.inviteLink.hidden = true; // the last trip's link is not this one's
  el.inviteLink.value = '';
  drafts.forgetRestored();
  S.viewing = {};
  S.myViewing = { itemId: null, sentAt: 0 };
  S.joinedConn = null;
  S.roomError = null;
  S.editing = null;
  S.failedChats = S.failedChats.filter((f) => f.tripId === tripId);
  store.set(sessionStorage, KEY.openTrip, tripId);
  setTripInUrl(tripId);
  el.tripIdInput.value = '';
  if (socketReady()) {
    sendJoin(); // the snapshot that follows triggers the history load
  } else {
    loadTripOffline(tripId);
    loadHistory();
  }
  renderAll();
}

/** Show the board from REST while the socket is still connecting. */
async function loadTripOffline(tripId) {
  try {
    const trip = await api.getTrip(tripId);
    if (S.room?.tripId === tripId && !S.room.trip && trip) {
      S.room = { ...S.room, trip: normalizeTrip(trip) }; // lastSeq stays 0: the join brings a snapshot
      rememberTrip(tripId, trip.title);
      renderAll();
    }
  } catch (err) {
    if (err instanceof ApiError && (err.status === 403 || err.status === 404) && S.room?.tripId === tripId) {
      S.roomError = { code: err.code, message: err.status === 404 ? 'There is no trip with this id.' : 'You do not have access to this trip.' };
      renderAll();
    }
  }
}

/** A seq gap means something was missed: re-read trip and chat over REST. */
// ------------------------------------------------ chat edits, deletes, reactions, read state

const chatChanges = new ChatChanges(chatActions({
  api, tripId: () => S.room?.tripId, confirm: (opts) => confirmDialog($('confirm-dialog'), opts), onError: errorToast, rerender: () => renderChatPanel(),
}));

function readSeq() {
  return S.chatRead?.tripId === S.room?.tripId ? S.chatRead.readSeq : 0;
}

function markChatRead() {
  if (S.room) chatChanges.actions.markRead(newestSeq(S.room.messages));
}

async function repairFromRest() {
  if (!S.room || Date.now() - S.lastRepair < 10_000) return;
  S.lastRepair = Date.now();
  const tripId = S.room.tripId;
  try {
    const trip = await api.getTrip(tripId);
    if (S.room?.tripId === tripId && S.room.trip && trip && (trip.version ?? 0) >= S.room.trip.version) {
      const fresh = normalizeTrip(trip);
      S.room = { ...S.room, trip: fresh, history: [], historyFrom: fresh.version };
      renderBoard();
      renderHeader();
    }
  } catch {
    /* best effort */
  }
  loadHistory();
}

async function loadHistory({ older = false } = {}) {
  const room = S.room;
  if (!room || !S.token) return;
  const tripId = room.tripId;
  const before = older ? room.messages.find((m) => m.messageId)?.messageId : undefined;
  try {
    const res = await api.messages(tripId, { limit: HISTORY_LIMIT, before });
    if (S.room?.tripId !== tripId) return;
    S.room = applyHistory(S.room, res?.messages || [], { limit: HISTORY_LIMIT, older });
    if (!older) S.chatRead = { tripId, readSeq: (await api.request('GET', `/api/trips/${tripId}/chat/read`)).readSeq };
    renderChatPanel({ forceScroll: !older });
  } catch (err) {
    if (older) errorToast('Could not load earlier messages', err);
  }
}

async function createTrip(title) {
  const clean = title.trim();
  if (!clean) return notify({ kind: 'error', title: 'Give the trip a title' });
  if (clean.length > LIMITS.tripTitle) return notify({ kind: 'error', title: 'Title too long', body: 'At most 200 characters.' });
  try {
    const trip = await api.createTrip(clean);
    el.createTitle.value = '';
    rememberTrip(trip.tripId, trip.title);
    notify({ kind: 'success', title: 'Trip created', body: `“${trip.title}” is ready. Invite people under “Planning together”.` });
    openTrip(trip.tripId);
  } catch (err) {
    errorToast('Could not create the trip', err);
  }
}

async function loadPeople() {
  try {
    const res = await api.people();
    S.people = Object.fromEntries((res?.people || []).map((p) => [p.userId, p.name]));
    renderHeader();
  } catch {
    /* inviting by name waits for the next try */
  }
}

async function addCollaborator(userId) {
  const id = userId.trim();
  if (!S.room) return;
  if (!isObjectId(id)) return notify({ kind: 'error', title: 'Pick a person to invite' });
  try {
    await api.addCollaborator(S.room.tripId, id);
    notify({ kind: 'success', title: 'Invited', body: `${S.people[id] || 'They'} can now open this trip.` });
  } catch (err) {
    errorToast('Could not add the collaborator', err);
  }
}

/** The trip's invite link: on the clipboard where the browser allows, and in a box to copy from. */
async function copyInviteLink() {
  if (!S.room) return;
  try {
    const made = await api.createInvite(S.room.tripId);
    const link = `${location.origin}/?invite=${encodeURIComponent(made.invite)}`;
    el.inviteLink.value = link;
    el.inviteLink.hidden = false;
    let copied = false;
    try {
      await navigator.clipboard.writeText(link);
      copied = true;
    } catch {
      el.inviteLink.focus();
      el.inviteLink.select();
    }
    const until = new Date(made.expiresAt).toLocaleDateString(undefined, { day: 'numeric', month: 'long' });
    notify({
      kind: 'success',
      title: copied ? 'Invite link copied' : 'Invite link ready: copy it from the box',
      body: `Anyone signed in who opens it joins this trip, until ${until}.`,
    });
  } catch (err) {
    errorToast('Could not make an invite link', err);
  }
}

async function joinByInvite(invite) {
  store.set(sessionStorage, KEY.invite, null); // one try: a refused link is not tried again on reload
  try {
    const trip = await api.acceptInvite(invite);
    notify({ kind: 'success', title: 'You joined the trip', body: `“${trip.title}”: plan it together from here.` });
    openTrip(trip.tripId);
  } catch (err) {
    errorToast('Could not join with this invite link', err);
  }
}

async function removeCollaborator(userId) {
  if (!S.room) return;
  try {
    await api.removeCollaborator(S.room.tripId, userId);
    notify({ kind: 'success', title: 'Collaborator removed' });
  } catch (err) {
    errorToast('Could not remove the collaborator', err);
  }
}

// -------------------------------------------------------------- trip edits

/** Plan an intent against the latest trip and queue its updates. */
function submitIntent(intent, { baseVersion, delayMs = 0 } = {}) {
  const room = S.room;
  if (!room?.trip) {
    notify({ kind: 'error', title: 'The trip is not loaded yet' });
    return null;
  }
  // New items get their ids here, so they can be drawn (and edited) before the server has them.
  if (intent.type === 'add_day' && !intent.day.dayId) intent = { ...intent, day: { ...intent.day, dayId: newObjectId() } };
  if (intent.type === 'add_activity' && !intent.activity.activityId) intent = { ...intent, activity: { ...intent.activity, activityId: newObjectId() } };
  const plan = planUpdates(shownTrip(), intent);
  if (!plan.ok) {
    notify({ kind: 'error', title: 'Cannot do that', body: plan.error });
    return null;
  }
  const entries = outboxEntries(room.tripId, plan.updates, {
    intent,
    baseVersion: baseVersion ?? room.trip.version,
    notBefore: delayMs ? Date.now() + delayMs : 0,
    newRef,
    describe: (i) => describeIntent(shownTrip(), i),
  });
  for (const entry of entries) S.outbox.add(entry);
  flush();
  renderOutboxList();
  return entries[0].id;
}

/** The trip as the person sees it: the server's, with their unsent edits drawn over it. */
function shownTrip() {
  const trip = S.room?.trip ?? null;
  return trip ? pendingView(trip, S.outbox.forTrip(S.room.tripId)).trip : null;
}

function announce(text) {
  say($('live-region'), text);
}

/** Someone else changed the trip: flash it in their colour, and say it. */
function noticeOthers(tripBefore, data) {
  const change = othersChange(tripBefore, data, names(), S.me?.sub);
  if (!change) return;
  const looks = currentLooks();
  S.flashes = flashAfter(S.flashes, change, { color: looks[change.userId]?.color ?? colorOf(change.userId), now: Date.now(), ms: FLASH_MS });
  announce(change.text);
  if (change.removal) notify({ kind: 'info', title: change.text, testid: 'toast-removed' });
}

function currentLooks() {
  const trip = S.room?.trip;
  const authors = (S.room?.messages || []).map((m) => m.userId);
  const ids = new Set([S.me?.sub, ...(S.room?.members || []).map((m) => m.userId), trip?.ownerId, ...(trip?.collaborators || []), ...authors].filter(Boolean));
  const all = names();
  return avatarLooks([...ids].map((userId) => ({ userId, name: all[userId] })));
}

const handlers = boardActions(S, {
  shownTrip: () => shownTrip(),
  submitIntent: (intent, opts) => submitIntent(intent, opts),
  notify: (opts) => notify(opts),
  announce: (text) => announce(text),
  renderBoard: (opts) => renderBoard(opts),
  renderOutboxList: () => renderOutboxList(),
  renderChatPanel: () => renderChatPanel(),
  openTrip: (id) => openTrip(id),
  confirm: (opts) => confirmDialog($('confirm-dialog'), opts),
  undoMs: UNDO_MS,
});

function addDay() {
  const date = el.addDayDate.value;
  const title = el.addDayTitle.value.trim();
  if (!DATE_RE.test(date)) return notify({ kind: 'error', title: 'Pick a date for the day' });
  if (title.length > LIMITS.dayTitle) return notify({ kind: 'error', title: 'Title too long', body: 'At most 200 characters.' });
  const taken = dateProblem(shownTrip(), date);
  if (taken) return notify({ kind: 'error', title: 'Pick another date', body: taken });
  const day = { date };
  if (title) day.title = title;
  if (submitIntent({ type: 'add_day', day })) {
    el.addDayTitle.value = '';
    el.addDayDate.value = nextDate(date);
  }
}

function addConstraint() {
  const made = constraintForm.read();
  if (!made.ok) return notify({ kind: 'error', title: 'Cannot add that yet', body: made.error });
  if (submitIntent({ type: 'add_constraint', constraint: made.constraint })) constraintForm.reset();
}

// -------------------------------------------------------------------- chat

const typing = { active: false, lastSent: 0, idle: null };

function sendTyping(isTyping) {
  if (!roomReady()) return;
  socket.send({ event: ClientEvent.TYPING, data: { tripId: S.room.tripId, isTyping } });
  typing.active = isTyping;
  typing.lastSent = Date.now();
}

function stopTyping() {
  clearTimeout(typing.idle);
  typing.idle = null;
  if (typing.active) sendTyping(false);
  typing.active = false;
}

function onChatInput() {
  const len = el.chatInput.value.length;
  el.chatCount.textContent = `${len}/${LIMITS.chatMessage}`;
  el.chatCount.classList.toggle('error-text', len > LIMITS.chatMessage);
  if (!el.chatInput.value.trim()) return stopTyping();
  if (!roomReady()) return;
  if (!typing.active || Date.now() - typing.lastSent > TYPING_REPEAT_MS) sendTyping(true);
  clearTimeout(typing.idle);
  typing.idle = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function sendChat() {
  if (!S.room) return notify({ kind: 'error', title: 'Open a trip to chat' });
  const message = el.chatInput.value.trim();
  if (!message) return;
  if (message.length > LIMITS.chatMessage) return notify({ kind: 'error', title: 'Message too long', body: 'At most 1000 characters.' });
  const type = el.chatType.value || 'text';
  stopTyping();
  S.outbox.add({
    id: newRef('m'),
    ref: newRef('c'),
    event: ClientEvent.CHAT,
    tripId: S.room.tripId,
    kind: 'chat',
    payload: { tripId: S.room.tripId, message, type, ...mentionsIn(message, S.room.names, S.me?.sub) },
    summary: 'send a message',
  });
  el.chatInput.value = '';
  saveDraft(el.chatInput); // sent: its draft goes too
  onChatInput();
  flush();
  renderChatPanel({ forceScroll: true });
}

function sendPresence() {
  if (!roomReady()) return;
  socket.send({ event: ClientEvent.PRESENCE, data: { tripId: S.room.tripId, status: S.presence }, ref: newRef('p') });
}

// ------------------------------------------------------------------ render

function renderAll() {
  renderHeader();
  renderBoard();
  renderChatPanel();
  renderOutboxList();
  conflictPanel.render();
  renderRecent();
}

function rememberTrip(tripId, title) {
  recent.remember(tripId, title);
  renderRecent();
}

function renderRecent() {
  renderRecentTrips(el.recent, recent.list(), S.room?.tripId, {
    open: openTrip,
    forget: (tripId) => {
      recent.forget(tripId);
      renderRecent();
    },
  });
}

function renderHeader() {
  el.status.hidden = !S.me; // a connection state means nothing to someone not signed in yet
  const room = S.room;
  const trip = room?.trip;
  el.tripTitle.textContent = trip?.title || (room ? (S.roomError ? 'Trip unavailable' : 'Loading trip…') : 'No trip open');
  el.tripVersion.textContent = String(trip?.version ?? 0);
  el.tripSeq.textContent = String(room?.lastSeq ?? 0);
  $('trip-id').textContent = room?.tripId ?? '';
  const looks = currentLooks();
  const stale = Boolean(room) && !roomReady();
  renderMembers(el.memberList, room, S.me?.sub, looks, { stale });
  el.memberList.classList.toggle('stale', stale);
  el.workspace.classList.toggle('no-trip', !room);
  const canManage = Boolean(trip && S.me && (S.me.isAdmin || trip.ownerId === S.me.sub));
  renderCollaborators(el.collabList, trip, names(), S.me?.sub, { canManage, onRemove: removeCollaborator, looks });
  $('add-collaborator-form').hidden = !canManage;
  if (canManage) renderInvite(el.inviteSelect, trip, S.people);
  renderUserChip();
  renderRecentActive();
}

function renderRecentActive() {
  for (const chip of el.recent.querySelectorAll('.chip')) {
    const id = chip.querySelector('[data-testid^="trip-link-"]')?.dataset.testid.slice('trip-link-'.length);
    chip.classList.toggle('active', id === S.room?.tripId);
  }
}

let lastBoard = { trip: undefined, editing: undefined, error: undefined };

function renderBoard({ force = false } = {}) {
  const room = S.room;
  const trip = room?.trip ?? null;
  const same = lastBoard.trip === trip && lastBoard.editing === S.editing && lastBoard.error === S.roomError && lastBoard.room === room?.tripId;
  if (!force && same && lastBoard.rev === S.outboxRev && lastBoard.flashes === S.flashes && lastBoard.viewing === S.viewing) return;
  lastBoard = { trip, editing: S.editing, error: S.roomError, room: room?.tripId, rev: S.outboxRev, flashes: S.flashes, viewing: S.viewing };
  syncViewing();
  const empty = $('board-empty');
  if (!trip) {
    el.boardBody.hidden = true;
    empty.hidden = false;
    replaceChildren(
      empty,
      S.roomError
        ? [h('p', null, h('strong', null, 'Cannot open this trip.')), h('p', { class: 'error-text', testid: 'board-error' }, S.roomError.message)]
        : room
          ? [h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('p', { class: 'muted' }, 'Loading trip…')]
          : [h('p', null, h('strong', null, 'No trip open.')), h('p', { class: 'muted' }, 'Open a trip by id, pick a recent one, or create a new trip above.')],
    );
    renderDays(el.dayList, null, {}, handlers);
    renderConstraints(el.constraintList, null, handlers);
    $('budget-summary').hidden = true;
    return;
  }
  empty.hidden = true;
  el.boardBody.hidden = false;
  const view = pendingView(trip, S.outbox.forTrip(room.tripId));
  const shown = view.trip;
  if (S.editing && !findActivity(shown, S.editing.activityId)) {
    collab?.editorGone(S.editing); // removed by someone else: what was typed is offered back
    S.editing = null;
  }
  const money = tripMoney(shown);
  const ui = { editing: S.editing, marks: view.marks, flashes: S.flashes, money, menu: S.menu, viewers: viewersOf(S.viewing, names(), currentLooks()) };
  renderConstraints(el.constraintList, shown, handlers, ui);
  renderDays(el.dayList, shown, ui, handlers);
  renderBudget(document, money);
  drafts.restoreOnce(S.me?.sub, room.tripId, (id) => $(id), document.activeElement);
  if (!el.addDayDate.value) {
    const days = sortDays(shown.days);
    el.addDayDate.value = nextDate(days.length ? days[days.length - 1].date : null);
  }
}

/** Tell the room which activity this page has open (repeated while it stays open). */
function syncViewing(now = Date.now()) {
  const itemId = S.editing?.activityId ?? null;
  const last = S.myViewing;
  if (!viewingDue(last, itemId, now, VIEWING_REPEAT_MS) || !S.room || S.hidden || !roomReady()) return;
  S.myViewing = { itemId, sentAt: now };
  api.setViewing(S.room.tripId, itemId).catch(() => {
    S.myViewing = { itemId: last.itemId, sentAt: 0 }; // try again on the next tick
  });
}

function renderOutboxList() {
  const entries = S.room ? S.outbox.forTrip(S.room.tripId) : [];
  renderOutbox(el.outboxList, entries, handlers);
  if (conn.isReconnecting) updateReconnectText();
  // Stored and redrawn only when it changed: flush() passes here every second.
  const stored = JSON.stringify(outboxToStore(S.outbox.entries));
  if (stored === S.outboxStored) return;
  S.outboxStored = stored;
  if (S.me) keep.write(S.me.sub, 'outbox', JSON.parse(stored));
  S.outboxRev += 1;
  renderBoard();
}

function saveDraft(field) {
  drafts.save(S.me?.sub, S.room?.tripId, field);
}

function renderChatPanel({ forceScroll = false } = {}) {
  const room = S.room;
  const pending = room ? S.outbox.forTrip(room.tripId).filter((e) => e.kind === 'chat') : [];
  const failed = room ? S.failedChats.filter((f) => f.tripId === room.tripId) : [];
  renderChat(el.chatLog, room, pending, failed, S.me?.sub, { ...handlers, forceScroll, looks: currentLooks() });
  chatChanges.decorate(el.chatLog, room, S.me?.sub);
  renderUnread($('chat-unread'), room ? unreadCount(room.messages, readSeq(), S.me?.sub) : 0, markChatRead);
  const disabled = !room || Boolean(S.roomError);
  el.chatInput.disabled = disabled;
  el.chatSend.disabled = disabled;
  el.chatInput.placeholder = disabled
    ? 'Open a trip to chat'
    : roomReady()
      ? 'Message the group…  (Enter to send, Shift+Enter for a new line)'
      : 'Offline: messages are queued and sent on reconnect';
  $('chat-load-earlier').hidden = !room || !room.hasOlderMessages || room.messages.length === 0;
}

function renderTypingNow() {
  if (S.room) renderTyping(el.typing, S.room, Date.now(), S.me?.sub);
  else el.typing.textContent = '';
}

// ------------------------------------------------------------------- ticker

function tick() {
  const now = Date.now();
  S.flashes = expired(S.flashes, now);
  S.viewing = expired(S.viewing, now);
  renderBoard(); // a no-op unless something above changed
  if (S.outbox.entries.some((e) => e.notBefore && e.notBefore <= now && !e.everSent)) renderOutboxList();
  syncViewing(now);
  renderTypingNow();
  if (conn.isReconnecting) updateReconnectText();
  if (socketReady()) {
    const stale = S.outbox.expireUnanswered(socket.connId, Date.now(), ACK_TIMEOUT_MS);
    for (const e of stale) {
      if (e.attempts >= MAX_ATTEMPTS) onEntryError(e, { code: 'TIMEOUT', message: 'The server did not answer.' });
    }
    flush(); // resends unanswered frames under the same ref, and due retries
  }
}

function goOffline() {
  if (!S.offline) announce('You are offline. Your changes are kept on this device.');
  S.offline = true;
  if (socket && !socket.stopped) socket.drop();
  setStatus('offline', 'offline');
  renderChatPanel();
}

function comeBack() {
  S.offline = false;
  connectivity.heard();
  socket.reconnectNow(connectivity.backAt); // an attempt made while the network was gone may have lost its handshake with it
  setStatus(socketReady() ? 'connected' : 'reconnecting', socketReady() ? 'connected' : 'reconnecting');
}

/** Phone: a badge on the Chat tab for messages that came while another tab was open. */
function countUnseenChat() {
  const badge = $('chat-unseen');
  badge.textContent = String(Number(badge.textContent || 0) + 1);
  badge.hidden = false;
}

function showTab(name) {
  el.workspace.dataset.tab = name;
  for (const tab of document.querySelectorAll('[data-testid="phone-tabs"] .tab')) tab.setAttribute('aria-pressed', String(tab.dataset.tab === name));
  if (name === 'chat') {
    $('chat-unseen').hidden = true;
    $('chat-unseen').textContent = '0';
  }
}

// --------------------------------------------------------------------- boot

// element name -> its data-testid
const ELEMENTS = {
  status: 'connection-status', userChip: 'user-chip', signin: 'signin-panel', signinError: 'signin-error',
  tokenInput: 'token-input', workspace: 'workspace',
  tripIdInput: 'trip-id-input', createTitle: 'create-trip-title', recent: 'recent-trips', tripTitle: 'trip-title',
  tripVersion: 'trip-version', tripSeq: 'trip-seq', memberList: 'member-list', collabList: 'collaborator-list',
  inviteSelect: 'invite-person', inviteLink: 'invite-link', boardBody: 'board-body', dayList: 'day-list',
  constraintList: 'constraint-list', outboxList: 'outbox-list', addDayDate: 'add-day-date', addDayTitle: 'add-day-title',
  chatLog: 'chat-log', chatInput: 'chat-input', chatType: 'chat-type', chatSend: 'chat-send', chatCount: 'chat-count',
  typing: 'typing-indicator', conflict: 'conflict-panel', tokenDialog: 'token-dialog', toastArea: 'toast-area',
  presence: 'presence-status', hidePresence: 'hide-presence',
};

function grab() {
  el = Object.fromEntries(Object.entries(ELEMENTS).map(([name, testid]) => [name, $(testid)]));
  conn = new ConnectionView((testid) => $(testid));
}

function onSubmit(testid, fn) {
  $(testid).addEventListener('submit', (ev) => {
    ev.preventDefault();
    fn();
  });
}

function wire() {
  onSubmit('signin-form', () => {
    const token = el.tokenInput.value.trim();
    if (!token) return showSignIn('Paste a token first.');
    const pending = new URL(location.href).searchParams.get('trip');
    signIn(token, { tripId: pending });
  });
  $('sign-out').addEventListener('click', signOut);
  onSubmit('open-trip-form', () => openTrip(el.tripIdInput.value));
  onSubmit('create-trip-form', () => createTrip(el.createTitle.value));
  onSubmit('add-collaborator-form', () => addCollaborator(el.inviteSelect.value));
  $('copy-invite-link').addEventListener('click', copyInviteLink);
  onSubmit('add-day-form', addDay);
  onSubmit('add-constraint-form', addConstraint);
  onSubmit('chat-form', sendChat);
  conflictPanel = new ConflictPanel({
    panel: el.conflict,
    find: (testid) => $(testid),
    view: (conflict) => conflictView(conflict, S.room, names(), S.me?.sub, currentLooks()),
    submit: (intent, opts) => submitIntent(intent, opts),
    tripId: () => S.room?.tripId ?? null,
    version: () => S.room?.trip?.version ?? null,
    fallback: () => el.dayList,
  });
  tokenDialog = new TokenDialog(el.tokenDialog, {
    selfId: () => S.me?.sub ?? null,
    canRefresh: socketReady,
    refresh: (token) => {
      S.refreshRef = newRef('t');
      S.pendingToken = token;
      socket.send({ event: ClientEvent.REFRESH_TOKEN, data: { token }, ref: S.refreshRef });
    },
    signIn: (token) => signIn(token, { tripId: S.room?.tripId ?? null }),
    renew: async () => (S.me ? (await api.devSignIn(S.me.sub))?.token ?? null : null),
  });

  el.chatInput.addEventListener('input', onChatInput);
  el.chatInput.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $('chat-form').requestSubmit();
    }
  });
  el.chatInput.addEventListener('blur', () => {
    if (!el.chatInput.value.trim()) stopTyping();
  });
  $('chat-load-earlier').addEventListener('click', () => loadHistory({ older: true }));

  el.presence.addEventListener('change', () => {
    S.presence = el.presence.value;
    store.set(sessionStorage, KEY.presence, S.presence);
    sendPresence();
    renderUserChip();
  });
  el.hidePresence.addEventListener('change', () => {
    S.hidden = el.hidePresence.checked;
    store.set(sessionStorage, KEY.hidden, S.hidden ? '1' : null);
    renderUserChip();
    if (S.token && !socket.stopped) socket.restart(); // presence=hidden is a connection option
    notify({ kind: 'info', title: S.hidden ? 'Presence hidden' : 'Presence visible', body: S.hidden ? 'Others will not see you join, type or change status.' : 'Others can see you again.' });
  });

  $('reconnect-now').addEventListener('click', () => socket.reconnectNow(performance.now())); // the user gives up on the attempt under way
  $('conflict-reapply').addEventListener('click', () => conflictPanel.resolve(true));
  $('conflict-discard').addEventListener('click', () => conflictPanel.resolve(false));


  window.addEventListener('beforeunload', (ev) => {
    if (!S.outbox.size) return;
    ev.preventDefault(); // unsent edits are kept on this device, but say so before the tab goes
    ev.returnValue = '';
  });
  el.workspace.addEventListener('input', (ev) => saveDraft(ev.target));
  el.workspace.addEventListener('submit', (ev) => setTimeout(() => {
    for (const field of ev.target.querySelectorAll('input[data-testid], textarea[data-testid]')) saveDraft(field);
  }, 0), true);
  el.chatInput.addEventListener('input', () => saveDraft(el.chatInput));
  for (const tab of document.querySelectorAll('[data-testid="phone-tabs"] .tab')) tab.addEventListener('click', () => showTab(tab.dataset.tab));
  constraintForm = new ConstraintForm(document);
  collab = wireCollab({
    $, api, notify, newRef, send: (frame) => socket.send(frame), tripId: () => S.room?.tripId ?? null, ready: roomReady,
    selfId: () => S.me?.sub ?? null, nameOf: (userId) => nameOf(userId, names(), S.me?.sub),
    submit: (intent) => submitIntent(intent), trip: () => S.room?.trip ?? null,
  });
  showTab('itinerary');
}

function boot() {
  grab();
  wire();
  admin = new AdminPanel($('admin-panel'), api, notify, names, (tripId) => recent.title(tripId));
  notes = new NotificationCenter({
    api,
    toast: notify,
    errorToast,
    openTrip,
    tripTitle: (tripId) => recent.title(tripId),
    currentTripId: () => S.room?.tripId ?? null,
  });
  socket = new ReconnectingSocket({ url: wsUrl, onFrame, onState: onSocketState, beforeReconnect });

  S.hidden = store.get(sessionStorage, KEY.hidden) === '1';
  S.presence = ['online', 'away', 'busy'].includes(store.get(sessionStorage, KEY.presence)) ? store.get(sessionStorage, KEY.presence) : 'online';
  el.hidePresence.checked = S.hidden;
  el.presence.value = S.presence;

  const url = new URL(location.href);
  const urlToken = url.searchParams.get('token');
  const urlTrip = url.searchParams.get('trip');
  const urlInvite = url.searchParams.get('invite');
  if (urlInvite) {
    store.set(sessionStorage, KEY.invite, urlInvite); // joined once signed in (the picker may come first)
    url.searchParams.delete('invite');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  if (urlToken) {
    store.set(sessionStorage, KEY.token, urlToken);
    setTripInUrl(urlTrip); // keep the token out of history and screenshots
  }
  const token = urlToken || store.get(sessionStorage, KEY.token);
  const tripId = urlTrip || store.get(sessionStorage, KEY.openTrip);
  if (token) signIn(token, { tripId: isObjectId(tripId) ? tripId : null });
  else showSignIn();
  setInterval(tick, 1000);
  connectivity = new Connectivity({
    healthy: () => api.healthy(),
    active: () => Boolean(S.token) && !document.hidden,
    connected: socketReady,
    onOffline: goOffline,
    onOnline: comeBack,
    onReachable: () => socket && socket.reconnectNow(connectivity.backAt), // leaves an attempt made since alone
    everyMs: HEARTBEAT_MS,
  });
  connectivity.start();
  renderAll();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
