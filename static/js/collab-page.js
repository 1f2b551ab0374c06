// The page's side of planning together, wired by app.js in a few lines: Ctrl+Z /
// Ctrl+Shift+Z send undo/redo, a change that replaced my value is shown with a
// one-click restore, refused undos are said in words, and the history panel.

import { HistoryPanel } from './history-panel.js';
import { replacedOfMine, replacedWords, undoKeyOf } from './collab.js';
import { dropIndex, wireDrag } from './drag.js';

/**
 * @param {{$: Function, api: object, notify: Function, send: Function, newRef: Function,
 *          tripId: () => string|null, ready: () => boolean, selfId: () => string|null,
 *          nameOf: (userId: string) => string, submit: (intent: object) => void, trip: () => object|null}} deps
 */
/** The activity an editor showed, with what was typed in it (read by `read(field)`). Pure. */
export function editedCopy(editing, read) {
  const copy = { ...(editing.original || {}) };
  delete copy.activityId;
  const fields = { title: 'title', notes: 'notes', location: 'location', startTime: 'start', endTime: 'end' };
  for (const [field, input] of Object.entries(fields)) {
    const typed = read(input);
    if (typeof typed === 'string' && typed.trim()) copy[field] = typed.trim();
  }
  return copy;
}

export function wireCollab(deps) {
  const history = new HistoryPanel({ root: deps.$('history-panel'), api: deps.api, nameOf: deps.nameOf, notify: deps.notify, trip: deps.trip });

  function revert(kind) {
    const tripId = deps.tripId();
    if (!tripId || !deps.ready()) return;
    deps.send({ event: kind, data: { tripId }, ref: deps.newRef(kind === 'undo' ? 'u' : 'r') });
  }

  document.addEventListener('keydown', (ev) => {
    const kind = undoKeyOf(ev);
    if (!kind || !deps.tripId()) return;
    ev.preventDefault();
    revert(kind);
  });
  deps.$('undo-button').addEventListener('click', () => revert('undo'));
  deps.$('redo-button').addEventListener('click', () => revert('redo'));
  deps.$('history-button').addEventListener('click', () => deps.tripId() && history.toggle(deps.tripId()));
  wireDrag(deps.$('board'), (activityId, toDayId, beforeActivityId) => {
    const toIndex = dropIndex(deps.trip(), activityId, toDayId, beforeActivityId);
    if (toIndex !== null) deps.submit({ type: 'move_activity', activityId, toDayId, toIndex });
  });

  return {
    /** A trip_updated was applied: tell me when it replaced a value of mine. */
    tripUpdated(data) {
      history.refresh();
      if (!data || data.userId === deps.selfId()) return;
      const mine = replacedOfMine(data.updateType, data.data, deps.selfId());
      if (!mine.length) return;
      const who = deps.nameOf(data.userId);
      deps.notify({
        kind: 'info',
        title: replacedWords(who, mine).join('; '),
        testid: 'toast-replaced',
        timeout: 15000,
        actions: mine.filter((r) => r.restore).map((r) => ({
          label: `Restore my ${r.field}`,
          testid: `restore-mine-${r.field}`,
          onClick: () => deps.submit({ type: 'raw', ...r.restore }),
        })),
      });
    },
    /** Someone removed the activity an editor of mine had open: keep what I typed, offer it back. */
    editorGone(editing) {
      const copy = editedCopy(editing, (name) => deps.$(`activity-${name}-input-${editing.activityId}`)?.value);
      deps.notify({
        kind: 'warning',
        title: `“${copy.title ?? 'The activity'}” was removed while you were editing it`,
        body: 'What you typed is kept: add it back if you still want it.',
        testid: 'toast-editor-gone',
        timeout: 0,
        actions: editing.dayId && copy.title
          ? [{ label: 'Add it back with my changes', testid: 'editor-gone-readd', onClick: () => deps.submit({ type: 'add_activity', dayId: editing.dayId, activity: copy }) }]
          : [],
      });
    },
    /** An undo or redo was refused: say why. True when it was one. */
    refused(data) {
      if (data.event !== 'undo' && data.event !== 'redo') return false;
      const conflict = data.code === 'CONFLICT';
      deps.notify({
        kind: 'warning',
        title: conflict ? `Cannot ${data.event}: someone else changed it since` : `Nothing to ${data.event}`,
        testid: 'toast-undo-refused',
      });
      return true;
    },
  };
}
