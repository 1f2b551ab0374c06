// The CONFLICT panel's content: what the user tried, what changed meanwhile
// (from the room's recent history), and whether a re-apply can still work.

import { h, avatar, displayName } from './ui.js';
import { planUpdates, describeConflictTypes } from './state.js';
import { formatClock } from './util.js';
import { fieldWord } from './words.js';

/**
 * @param {object} conflict  {entry, details: {currentVersion, conflictsWith}}
 * @param {object|null} room state.js room of the trip
 * @returns {{nodes: Node[], canReapply: boolean, current: number}}
 */
/** "Ana set the title to “X”" for each field a per-field CONFLICT names. */
function fieldLines(details, names, selfId) {
  const fields = details?.fields && typeof details.fields === 'object' ? details.fields : {};
  return Object.entries(fields)
    .filter(([, f]) => f && 'theirValue' in f)
    .map(([field, f]) =>
      h('p', { testid: `conflict-field-${field}` },
        h('strong', null, displayName(f.by, names, selfId)), ` set the ${fieldWord(field)} to “${f.theirValue ?? ''}”.`),
    );
}

export function conflictView(conflict, room, names, selfId, looks = {}) {
  const trip = room?.trip ?? null;
  const base = conflict.entry.baseVersion;
  const current = Math.max(conflict.details.currentVersion ?? 0, trip?.version ?? 0);
  const types = Array.isArray(conflict.details.conflictsWith) ? conflict.details.conflictsWith : [];
  const since = (room?.history || []).filter((x) => base == null || x.version > base);
  const relevant = since.filter((x) => types.includes(x.updateType));
  const shown = (relevant.length ? relevant : since).slice(-5);
  // Step 0 of a change carries the whole intent (a move re-plans both of its
  // steps on the latest trip); a later step carries just itself.
  const plan = trip ? planUpdates(trip, conflict.entry.intent) : { ok: false, error: 'The trip is not loaded.' };
  const nodes = [
    h('p', null, 'You tried to ', h('strong', null, conflict.entry.summary), ', but someone changed the same thing just before you.'),
    shown.length
      ? h('div', null,
          h('p', { class: 'muted small' }, 'Changed meanwhile:'),
          h('ul', { class: 'conflict-changes', testid: 'conflict-changes' },
            shown.map((x) =>
              h('li', null,
                avatar(x.userId, names[x.userId], { size: 'xs', look: looks[x.userId] }),
                h('span', null, h('strong', null, displayName(x.userId, names, selfId)), ' ', x.summary),
                x.timestamp ? h('span', { class: 'muted small' }, ` · ${formatClock(x.timestamp)}`) : null,
              ),
            ),
          ),
        )
      : h('p', null, 'Meanwhile ', describeConflictTypes(types).join(', ') || 'the same item changed', '.'),
    ...fieldLines(conflict.details, names, selfId),
    plan.ok
      ? h('p', { class: 'muted small' }, '“Keep mine” makes your change again on top of theirs; “Keep theirs” drops yours.')
      : h('p', { class: 'error-text', testid: 'conflict-cannot' }, `Your change can no longer be applied: ${plan.error}`),
  ];
  return { nodes, canReapply: plan.ok, current };
}
