// What a person has typed but not sent (chat, new day, new activity, a new
// constraint), kept per person and trip in LocalKeep, put back after a reload.

const DRAFTABLE = /^(chat-input|add-day-title|add-activity-(title|start|end|location|cost)-.+|constraint-(amount|text)|add-constraint-description)$/;

export class Drafts {
  /** @param {import('./pending.js').LocalKeep} keep */
  constructor(keep) {
    this.keep = keep;
    this.restoredFor = null;
  }

  static key(tripId) {
    return `drafts.${tripId}`;
  }

  /** Keep (or, when emptied, forget) one field's text. */
  save(userId, tripId, field) {
    const id = field?.dataset?.testid;
    if (!userId || !tripId || !id || !DRAFTABLE.test(id)) return;
    const drafts = this.keep.read(userId, Drafts.key(tripId), {});
    if (field.value) drafts[id] = field.value;
    else delete drafts[id];
    this.keep.write(userId, Drafts.key(tripId), drafts);
  }

  /**
   * Put kept text back once per person and trip: the first time the trip is drawn.
   * After that the fields hold what is typed (a redraw keeps their values), and a
   * field emptied by sending must stay empty until its draft is forgotten.
   */
  restoreOnce(userId, tripId, find, active = null) {
    const key = `${userId}\u0000${tripId}`;
    if (!userId || !tripId || this.restoredFor === key) return;
    this.restoredFor = key;
    this.restore(userId, tripId, find, active);
  }

  /** Signed out or another trip opened: its drafts go back in when it is next drawn. */
  forgetRestored() {
    this.restoredFor = null;
  }

  /** Put kept text back into fields that are still empty and not being typed in. */
  restore(userId, tripId, find, active = null) {
    if (!userId || !tripId) return;
    for (const [id, value] of Object.entries(this.keep.read(userId, Drafts.key(tripId), {}))) {
      const field = find(id);
      if (field && !field.value && field !== active) field.value = value;
    }
  }
}
