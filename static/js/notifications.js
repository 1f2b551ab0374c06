// Notifications: live `notification` frames as toasts, the unread badge, and
// the drawer listing GET /api/notifications with mark-read.

import { $, renderNotifications, notificationText } from './ui.js';

export class NotificationCenter {
  /**
   * @param {object} deps
   * @param {import('./api.js').Api} deps.api
   * @param {(opts: object) => object} deps.toast
   * @param {(title: string, err: Error) => void} deps.errorToast
   * @param {(tripId: string) => void} deps.openTrip
   * @param {(tripId: string) => string|null} deps.tripTitle  title of a known trip
   * @param {() => string|null} deps.currentTripId
   */
  constructor({ api, toast, errorToast, openTrip, tripTitle, currentTripId }) {
    Object.assign(this, { api, toast, errorToast, openTrip, tripTitle, currentTripId });
    this.unread = 0;
    this.items = [];
    this.open = false;
    this.drawer = $('notifications-drawer');
    this.button = $('notifications-button');
    this.badge = $('notifications-badge');
    this.list = $('notifications-list');
    this.unreadOnly = $('notifications-unread-only');
    this.button.addEventListener('click', () => this.toggle());
    $('notifications-close').addEventListener('click', () => this.toggle(false));
    this.unreadOnly.addEventListener('change', () => this.load());
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.open) this.toggle(false);
    });
  }

  reset() {
    this.unread = 0;
    this.items = [];
    this.toggle(false);
    this.renderBadge();
  }

  /** Re-count unread ones (after sign-in and every reconnect). */
  async refreshUnread() {
    try {
      const res = await this.api.notifications({ unread: true });
      this.unread = (res?.notifications || []).filter((n) => !isRead(n)).length;
      this.renderBadge();
    } catch {
      /* the badge stays as it was */
    }
  }

  /** A live `notification` frame. */
  receive(n) {
    this.unread += 1;
    this.renderBadge();
    const { title, body } = notificationText(n);
    const tripTitle = n.tripId ? this.tripTitle(n.tripId) : null;
    const elsewhere = n.tripId && n.tripId !== this.currentTripId();
    this.toast({
      kind: n.kind === 'booking_update' ? 'notification-booking' : 'notification',
      title:
        n.kind === 'chat_message'
          ? `New message${tripTitle ? ` in “${tripTitle}”` : ''}`
          : title,
      body,
      actions: elsewhere ? [{ label: 'Open trip', testid: 'toast-open-trip', onClick: () => this.openTrip(n.tripId) }] : [],
      timeout: 8000,
    });
    if (this.open) this.load();
  }

  toggle(open = !this.open) {
    this.open = open;
    this.drawer.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    if (open) this.load();
    // focus into the drawer when it opens, back to the bell when it closes
    (open ? this.drawer.querySelector('[data-testid="notifications-close"]') : this.button)?.focus();
  }

  async load() {
    try {
      const res = await this.api.notifications({ unread: this.unreadOnly.checked });
      this.items = Array.isArray(res?.notifications) ? res.notifications : [];
      if (!this.unreadOnly.checked) this.unread = this.items.filter((n) => !isRead(n)).length;
      this.renderBadge();
      this.renderList();
    } catch (err) {
      this.errorToast('Could not load notifications', err);
    }
  }

  async markRead(id) {
    try {
      await this.api.markNotificationRead(id);
      const n = this.items.find((x) => idOf(x) === id);
      if (n && !isRead(n)) {
        n.read = true;
        this.unread = Math.max(0, this.unread - 1);
      }
      this.renderBadge();
      this.renderList();
    } catch (err) {
      this.errorToast('Could not mark it read', err);
    }
  }

  renderBadge() {
    this.badge.hidden = this.unread <= 0;
    this.badge.textContent = this.unread > 99 ? '99+' : String(this.unread);
  }

  renderList() {
    // Newest first when the server gives timestamps; its own order otherwise.
    const stamp = (n) => String(n.timestamp ?? n.createdAt ?? '');
    const items = this.items.every((n) => stamp(n)) ? [...this.items].sort((a, b) => stamp(b).localeCompare(stamp(a))) : this.items;
    renderNotifications(this.list, items, { openTrip: (id) => this.openTrip(id), markRead: (id) => this.markRead(id) });
  }
}

const idOf = (n) => n.notificationId ?? n.id;
const isRead = (n) => Boolean(n.read || n.readAt);
