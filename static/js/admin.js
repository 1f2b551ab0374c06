// Admin view: live connections (refreshed every 5 s), broadcast, notify,
// disconnect. Rendered only for tokens with role "admin".

import { h, $, replaceChildren, avatar } from './ui.js';
import { avatarLooks } from './people.js';
import { formatClock, isObjectId } from './util.js';
import { plainText, detailsWords } from './words.js';

const REFRESH_MS = 5000;

export class AdminPanel {
  /**
   * @param {HTMLElement} root  the [data-testid=admin-panel] section
   * @param {import('./api.js').Api} api
   * @param {(opts: object) => void} notify  toast helper
   * @param {() => object} names  userId -> name map known to the page
   * @param {(tripId: string) => string|null} tripTitle  a trip's title, when the page knows it
   */
  constructor(root, api, notify, names, tripTitle = () => null) {
    this.root = root;
    this.tripTitle = tripTitle;
    this.api = api;
    this.notify = notify;
    this.names = names;
    this.timer = null;
    this.busy = false;
    this.lastError = null;
    this._wire();
  }

  _wire() {
    $('admin-refresh', this.root).addEventListener('click', () => this.refresh());
    $('broadcast-form', this.root).addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.sendBroadcast();
    });
    $('notify-form', this.root).addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.sendNotify();
    });
  }

  start() {
    this.root.hidden = false;
    this.stop();
    this.refresh();
    this.loadPeople();
    this.timer = setInterval(() => {
      if (!document.hidden) this.refresh();
    }, REFRESH_MS);
  }

  /** The people one can notify, by name. */
  async loadPeople() {
    const select = $('notify-user', this.root);
    try {
      const res = await this.api.people();
      replaceChildren(select, h('option', { value: '' }, 'Choose a person…'), (res?.people || []).map((p) => h('option', { value: p.userId }, p.name)));
    } catch {
      replaceChildren(select, h('option', { value: '' }, 'Could not load people'));
    }
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  hide() {
    this.stop();
    this.root.hidden = true;
  }

  async refresh() {
    if (this.busy) return;
    this.busy = true;
    const status = $('admin-status', this.root);
    try {
      const res = await this.api.connections();
      this.render(res || { total: 0, connections: [] });
      status.textContent = `Updated ${formatClock(new Date().toISOString())}`;
      status.classList.remove('error-text');
    } catch (err) {
      status.textContent = `Could not load connections: ${err.message}`;
      status.classList.add('error-text');
    } finally {
      this.busy = false;
    }
  }

  render({ total, connections }) {
    const conns = Array.isArray(connections) ? connections : [];
    $('admin-total', this.root).textContent = String(total ?? conns.length);
    const byUser = new Map();
    for (const c of conns) {
      if (!byUser.has(c.userId)) byUser.set(c.userId, []);
      byUser.get(c.userId).push(c);
    }
    const names = this.names();
    const looks = avatarLooks([...byUser.keys()].map((userId) => ({ userId, name: names[userId] })));
    const table = $('admin-connections', this.root);
    const body = [...byUser.entries()].map(([userId, list]) =>
      h(
        'tbody',
        { class: 'conn-group', testid: `admin-user-${userId}` },
        h(
          'tr',
          { class: 'conn-user' },
          h('td', { colspan: 6 },
            h('div', { class: 'conn-user-cell' },
              avatar(userId, names[userId], { size: 'sm', look: looks[userId] }),
              h('strong', null, names[userId] || 'Someone without a name'),
              h('span', { class: 'tag' }, `${list.length} connection${list.length === 1 ? '' : 's'}`),
            ),
          ),
          h('td', { class: 'right' },
            h('button', { type: 'button', class: 'btn btn-danger btn-small', testid: `admin-disconnect-${userId}`, 'aria-label': `Disconnect ${names[userId] || 'this person'}`, onclick: () => this.disconnect(userId) }, 'Disconnect'),
          ),
        ),
        list.map((c) =>
          h(
            'tr',
            { class: 'conn-row', testid: `admin-connection-${c.sessionId}` },
            h('td', null, c.userAgent ? browserName(c.userAgent) : 'a client'),
            h('td', null, h('span', { class: `tag status-tag status-${c.status}` }, c.status ?? '')),
            h('td', null, (c.rooms || []).length ? (c.rooms || []).map((r) => h('span', { class: 'room-chip' }, this.tripTitle?.(r) || 'a trip')) : h('span', { class: 'muted' }, 'no trip open')),
            h('td', null, c.connectionTime ? formatClock(c.connectionTime) : ''),
            h('td', null, c.lastActivity ? formatClock(c.lastActivity) : ''),
            h('td', { class: 'small muted', title: c.userAgent || '' }, [c.ip, c.node].filter(Boolean).join(' · ')),
            h('td', null),
          ),
        ),
      ),
    );
    const head = h('thead', null, h('tr', null, ['Using', 'Status', 'Trips open', 'Connected', 'Last active', 'Address · server', ''].map((t) => h('th', null, t))));
    replaceChildren(table, head, body.length ? body : h('tbody', null, h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'No live connections.'))));
  }

  async disconnect(userId) {
    try {
      const res = await this.api.disconnect(userId);
      this.notify({ kind: 'success', title: 'Disconnected', body: `${res?.disconnected ?? 0} connection(s) of ${this.names()[userId] || 'that person'} closed.` });
    } catch (err) {
      this.notify({ kind: 'error', title: 'Disconnect failed', body: err.message });
    }
    this.refresh();
  }

  async sendBroadcast() {
    const msgEl = $('broadcast-message', this.root);
    const typeEl = $('broadcast-type', this.root);
    const result = $('broadcast-result', this.root);
    const message = msgEl.value.trim();
    if (!message) {
      result.textContent = 'Write a message first.';
      return;
    }
    try {
      const res = await this.api.broadcast(message, typeEl.value || 'announcement');
      msgEl.value = '';
      result.textContent = `Sent to ${res?.delivered ?? 0} connection(s).`;
    } catch (err) {
      result.textContent = `Failed: ${plainText(err.message)}${err.details ? ` (${detailsWords(err.details)})` : ''}`;
    }
  }

  async sendNotify() {
    const get = (id) => $(id, this.root).value.trim();
    const result = $('notify-result', this.root);
    const userId = get('notify-user');
    if (!isObjectId(userId)) {
      result.textContent = 'Pick a person.';
      return;
    }
    const body = { userId, kind: get('notify-kind') || 'booking_update', title: get('notify-title') || 'Booking update' };
    const text = get('notify-body');
    if (text) body.body = text;
    try {
      const res = await this.api.notify(body);
      result.textContent = res?.delivered ? 'Delivered live.' : 'Stored (user offline).';
    } catch (err) {
      result.textContent = `Failed: ${plainText(err.message)}${err.details ? ` (${detailsWords(err.details)})` : ''}`;
    }
  }
}

/** "Chrome", "Firefox", "Safari" or "a browser" from a User-Agent header. */
function browserName(agent) {
  for (const [needle, name] of [['Edg/', 'Edge'], ['Firefox/', 'Firefox'], ['Chrome/', 'Chrome'], ['Safari/', 'Safari']]) {
    if (agent.includes(needle)) return name;
  }
  return /python|websocket/i.test(agent) ? 'a program' : 'a browser';
}
