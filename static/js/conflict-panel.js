// The conflict panel: holds the CONFLICTs the server answered, shows the open
// trip's first one (what was tried, what changed meanwhile: js/conflict.js),
// takes focus when it opens and gives it back when the last one is resolved.
// "Keep mine" re-plans the change on the latest version (a fresh ref: the old
// one's cached answer is the CONFLICT itself); "Keep theirs" lets it go.

/** "1 of 3" when more than one waits, else nothing. */
export function countText(n) {
  return n > 1 ? `1 of ${n}` : '';
}

/**
 * Where focus goes once the panel closes, as testids to try in order: the item the
 * conflict was about (its Details button, or its day's remove button). Used when the
 * element focused before the panel opened was redrawn meanwhile.
 */
export function focusBackIds(intent) {
  const i = intent || {};
  return [i.activityId ? `edit-activity-${i.activityId}` : null, i.dayId ? `remove-day-${i.dayId}` : null].filter(Boolean);
}

export class ConflictPanel {
  /**
   * @param {object} deps
   * @param {HTMLElement} deps.panel  [data-testid=conflict-panel]
   * @param {(testid: string) => HTMLElement|null} deps.find
   * @param {(conflict: object) => {nodes: Node[], canReapply: boolean}} deps.view  js/conflict.js conflictView, bound
   * @param {(intent: object, opts: object) => void} deps.submit  the page's submitIntent
   * @param {() => string|null} deps.tripId  the open trip
   * @param {() => number|null} deps.version  the open trip's version
   * @param {() => HTMLElement} deps.fallback  focus when neither the old spot nor the item is there
   * @param {{activeElement: Element|null, body: Element|null}} [deps.doc]
   * @param {(fn: () => void) => void} [deps.defer]  after the redraw that follows a resolve
   */
  constructor({ panel, find, view, submit, tripId, version, fallback, doc = globalThis.document, defer = (fn) => setTimeout(fn, 0) }) {
    Object.assign(this, { panel, find, view, submit, tripId, version, fallback, doc, defer });
    this.conflicts = [];
    this.focusBefore = null;
  }

  /** A CONFLICT for an outbox entry: {id, tripId, entry, dropped, details, message}. */
  add(conflict) {
    this.conflicts.push(conflict);
    this.render();
  }

  clear() {
    this.conflicts = [];
    this.render();
  }

  mine() {
    const tripId = this.tripId();
    return this.conflicts.filter((c) => c.tripId === tripId);
  }

  render() {
    const mine = this.mine();
    if (!mine.length) {
      this.panel.hidden = true;
      return;
    }
    const opening = this.panel.hidden;
    this.panel.hidden = false;
    this.find('conflict-count').textContent = countText(mine.length);
    const shown = this.view(mine[0]);
    this.find('conflict-body').replaceChildren(...shown.nodes);
    this.find('conflict-reapply').disabled = !shown.canReapply;
    this.find('conflict-reapply').textContent = 'Keep mine';
    if (opening) {
      this.focusBefore = this.doc?.activeElement ?? null;
      this.panel.focus();
    }
  }

  /** Keep mine (reapply) or theirs, for the open trip's first conflict. */
  resolve(reapply) {
    const c = this.mine()[0];
    if (!c) return;
    this.conflicts = this.conflicts.filter((x) => x !== c);
    if (!this.mine().length) this.giveFocusBack(c.entry.intent);
    if (reapply) {
      const baseVersion = Math.max(c.details.currentVersion ?? 0, this.version() ?? 0);
      this.submit(c.entry.intent, { baseVersion });
    }
    this.render();
  }

  giveFocusBack(intent) {
    const back = this.focusBefore;
    this.focusBefore = null;
    this.defer(() => {
      const stillThere = back && back.isConnected && back !== this.doc?.body;
      const item = focusBackIds(intent).map((id) => this.find(id)).find(Boolean);
      (stillThere ? back : item ?? this.fallback())?.focus?.();
    });
  }
}
