// Trips this user opened or created, most recent first, in localStorage
// (the contract has no "list my trips" endpoint). One list per user (sub).

import { isObjectId } from './util.js';

const MAX = 12;

export class RecentTrips {
  constructor(storage = globalThis.localStorage) {
    this.storage = storage;
    this.sub = null;
  }

  key() {
    return `ts.trips.${this.sub}`;
  }

  forUser(sub) {
    this.sub = sub;
  }

  list() {
    if (!this.sub) return [];
    try {
      const list = JSON.parse(this.storage.getItem(this.key()) || '[]');
      return Array.isArray(list) ? list.filter((t) => t && isObjectId(t.tripId)) : [];
    } catch {
      return [];
    }
  }

  title(tripId) {
    return this.list().find((t) => t.tripId === tripId)?.title ?? null;
  }

  remember(tripId, title) {
    if (!this.sub) return;
    const list = this.list();
    const existing = list.find((t) => t.tripId === tripId);
    const item = { tripId, title: title || existing?.title || null, openedAt: Date.now() };
    this.save([item, ...list.filter((t) => t.tripId !== tripId)].slice(0, MAX));
  }

  forget(tripId) {
    this.save(this.list().filter((t) => t.tripId !== tripId));
  }

  save(list) {
    try {
      this.storage.setItem(this.key(), JSON.stringify(list));
    } catch {
      /* storage full or disabled: the list just is not kept */
    }
  }
}
