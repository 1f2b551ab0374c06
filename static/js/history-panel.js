// The trip's history panel: who changed what and when (GET /api/trips/{id}/history),
// and a one-click restore of the plan as it was after a change (POST .../restore).

import { h } from './ui.js';
import { historyLine } from './collab.js';
import { formatClock } from './util.js';

export class HistoryPanel {
  /**
   * @param {{root: HTMLElement, api: object, nameOf: (userId: string) => string,
   *          notify: (opts: object) => void}} deps
   */
  constructor({ root, api, nameOf, notify, trip = () => null }) {
    this.root = root;
    this.trip = trip; // the trip as it is now: names what the changes touched
    this.api = api;
    this.nameOf = nameOf;
    this.notify = notify;
    this.tripId = null;
  }

  async toggle(tripId) {
    if (!this.root.hidden && this.tripId === tripId) {
      this.root.hidden = true;
      return;
    }
    this.tripId = tripId;
    this.root.hidden = false;
    await this.refresh();
  }

  async refresh() {
    if (this.root.hidden || !this.tripId) return;
    const tripId = this.tripId;
    let page;
    try {
      page = await this.api.request('GET', `/api/trips/${encodeURIComponent(tripId)}/history?limit=50`);
    } catch (err) {
      this.root.replaceChildren(h('p', { class: 'error-text' }, `Could not load the history: ${err.message}`));
      return;
    }
    if (tripId !== this.tripId) return;
    const newest = page.changes[0]?.version ?? 0;
    this.root.replaceChildren(
      h('h2', { class: 'label' }, 'History'),
      h('ol', { class: 'history-list', testid: 'history-list' },
        page.changes.map((change) => {
          const line = historyLine(change, this.nameOf(change.userId), this.trip());
          const when = formatClock(change.at);
          return h('li', { testid: `history-${change.version}` },
            h('span', null, line),
            h('span', { class: 'muted small' }, ` · ${when}`),
            change.version < newest
              ? h('button', { type: 'button', class: 'btn btn-small', testid: `history-restore-${change.version}`,
                  'aria-label': `Restore the plan as it was after this: ${line}, ${when}`,
                  onclick: () => this.restore(change.version, `${line}, ${when}`) }, 'Restore this version')
              : null,
          );
        }),
      ),
    );
  }

  /** `after`: the change it goes back to, in words ("Ana added “Fado”, 10:42"): never a version number. */
  async restore(version, after) {
    try {
      await this.api.request('POST', `/api/trips/${encodeURIComponent(this.tripId)}/restore`, { toVersion: version });
      this.notify({ kind: 'success', title: 'Restored an earlier version of the plan', body: `As it was after: ${after}` });
    } catch (err) {
      this.notify({ kind: 'error', title: 'Could not restore', body: err.message });
    }
    await this.refresh();
  }
}
