// What the board's buttons and forms do: edit, move and remove activities,
// days and constraints. Removals wait a few seconds for "Undo" (in the outbox,
// not yet sent) and one that takes more than one item is confirmed first.

import { $ } from './ui.js';
import { findActivity } from './state.js';
import { formatDay } from './util.js';
import { newActivity, activityChanges } from './rules.js';
import { removalSize } from './changes.js';
import { constraintPhrase } from './words.js';

/**
 * @param {object} S  the page's state (editing, menu, outbox, failedChats are used)
 * @param {object} deps  shownTrip, submitIntent, notify, announce, renderBoard,
 *   renderOutboxList, renderChatPanel, openTrip, confirm, undoMs
 */
export function boardActions(S, deps) {
  const { shownTrip, submitIntent, notify, announce, renderBoard, renderOutboxList, renderChatPanel, openTrip, confirm, undoMs } = deps;

  async function removeWithUndo(intent, what, size) {
    const text = `${what} will be removed for everyone on this trip.`;
    if (size > 1 && !(await confirm({ title: 'Remove this day?', text, yes: `Remove ${size} items` }))) return;
    const id = submitIntent(intent, { delayMs: undoMs });
    if (!id) return;
    notify({
      kind: 'info',
      title: `Removed ${what}`,
      body: size > 1 ? `${size} items. Others are told.` : '',
      timeout: undoMs,
      actions: [{ label: 'Undo', testid: 'toast-undo', onClick: () => undo(id, what) }],
    });
    announce(`Removed ${what}. Undo is available for a few seconds.`);
  }

  function undo(id, what) {
    if (S.outbox.cancel(id)) {
      renderOutboxList();
      announce(`Kept ${what}.`);
    } else {
      notify({ kind: 'warning', title: 'Too late to undo', body: 'The removal was already sent.' });
    }
  }

  return {
    toggleMenu(activityId) {
      S.menu = S.menu === activityId ? null : activityId;
      renderBoard({ force: true });
      $(`activity-menu-${activityId}`)?.focus();
    },
    editActivity(activityId, mode) {
      // What the editor opened on: a save sends only the fields changed since, based on
      // that version, so someone else's change meanwhile to the same field is a conflict.
      const opened = findActivity(shownTrip(), activityId);
      S.editing = {
        activityId,
        mode,
        baseVersion: S.room?.trip?.version ?? null,
        original: opened ? { ...opened.activity } : null,
        dayId: opened?.day.dayId ?? null,
      };
      S.menu = null;
      renderBoard();
      const input = $(`activity-title-input-${activityId}`);
      if (input) {
        input.focus();
        input.select();
      }
    },
    cancelEdit() {
      S.editing = null;
      renderBoard();
    },
    saveActivity(activityId, values) {
      const found = findActivity(shownTrip(), activityId);
      if (!found) {
        S.editing = null;
        renderBoard();
        return notify({ kind: 'error', title: 'That activity is gone', body: 'Someone removed it meanwhile.' });
      }
      const a = found.activity;
      const seen = S.editing?.activityId === activityId ? S.editing : null;
      const edit = activityChanges(seen?.original ?? a, values);
      if (!edit.ok) return notify({ kind: 'error', title: edit.title, body: edit.body });
      const { changes } = edit;
      S.editing = null;
      const based = seen?.baseVersion != null ? { baseVersion: seen.baseVersion } : {};
      if (Object.keys(changes).length) submitIntent({ type: 'update_activity', activityId, changes, original: { title: a.title } }, based);
      renderBoard();
    },
    moveActivity(activityId, toDayId) {
      const found = findActivity(shownTrip(), activityId);
      submitIntent({ type: 'move_activity', activityId, toDayId, title: found?.activity.title });
    },
    removeActivity(activityId) {
      const found = findActivity(shownTrip(), activityId);
      if (S.editing?.activityId === activityId) S.editing = null;
      S.menu = null;
      removeWithUndo({ type: 'remove_activity', activityId, title: found?.activity.title }, `“${found?.activity.title ?? 'the activity'}”`, 1);
    },
    removeDay(dayId) {
      const trip = shownTrip();
      const day = (trip?.days || []).find((d) => d.dayId === dayId);
      const what = day ? `${formatDay(day.date)}${day.title ? ` (${day.title})` : ''}` : 'the day';
      const size = removalSize(trip, { type: 'remove_day', dayId });
      const count = size - 1;
      removeWithUndo({ type: 'remove_day', dayId }, count ? `${what} and its ${count === 1 ? 'activity' : `${count} activities`}` : what, size);
    },
    addActivity(dayId, values) {
      const made = newActivity(values);
      if (!made.ok) notify({ kind: 'error', title: made.title, body: made.body });
      return made.ok && Boolean(submitIntent({ type: 'add_activity', dayId, activity: made.activity }));
    },
    removeConstraint(constraintId) {
      const c = (shownTrip()?.constraints || []).find((x) => x.constraintId === constraintId);
      removeWithUndo({ type: 'remove_constraint', constraintId }, c ? constraintPhrase(c) : 'the budget or need', 1);
    },
    cancelQueued(id) {
      if (S.outbox.cancel(id)) renderOutboxList();
    },
    dismissFailed(id) {
      S.failedChats = S.failedChats.filter((f) => f.id !== id);
      renderChatPanel();
    },
    openTrip: (id) => openTrip(id),
  };
}
