// Drag an activity onto another day (or onto an activity, to go just before it):
// one `activity_moved`. Event delegation on the board, so re-rendering keeps it.

const TYPE = 'application/x-travelsense-activity';

/** Where a drop lands: {dayId, beforeActivityId} or null. Pure over the element tree. */
export function dropPlace(target) {
  const day = target?.closest?.('li.day');
  if (!day?.dataset?.dayId) return null;
  const before = target.closest('li[data-activity-id]');
  return { dayId: day.dataset.dayId, beforeActivityId: before && before.dataset.dayId === day.dataset.dayId ? before.dataset.activityId : null };
}

/** The index an activity takes in a day when dropped before another one (or last). */
export function dropIndex(trip, activityId, dayId, beforeActivityId) {
  const day = (trip?.days || []).find((d) => d.dayId === dayId);
  if (!day) return null;
  const others = (day.activities || []).filter((a) => a.activityId !== activityId);
  const at = beforeActivityId ? others.findIndex((a) => a.activityId === beforeActivityId) : -1;
  return at >= 0 ? at : others.length;
}

/** Wire drag and drop on the board; onMove(activityId, dayId, beforeActivityId). */
export function wireDrag(board, onMove) {
  board.addEventListener('dragstart', (ev) => {
    const li = ev.target?.closest?.('li[data-activity-id]');
    if (!li || !ev.dataTransfer) return;
    ev.dataTransfer.setData(TYPE, li.dataset.activityId);
    ev.dataTransfer.effectAllowed = 'move';
  });
  board.addEventListener('dragover', (ev) => {
    if (dropPlace(ev.target) && ev.dataTransfer?.types?.includes(TYPE)) ev.preventDefault();
  });
  board.addEventListener('drop', (ev) => {
    const place = dropPlace(ev.target);
    const activityId = ev.dataTransfer?.getData(TYPE);
    if (!place || !activityId || activityId === place.beforeActivityId) return;
    ev.preventDefault();
    onMove(activityId, place.dayId, place.beforeActivityId);
  });
}
