// Short-lived signals about others, as pure state transitions: who has which
// item open (user_viewing) and which items others just changed (flashes).
// Both are maps that forget their entries at `until`.

/** After a user_viewing frame: {userId: {itemId, until}}. */
export function viewingAfter(viewing, data, { selfId, now, ttlMs }) {
  if (!data?.userId || data.userId === selfId) return viewing;
  const rest = without(viewing, data.userId);
  return data.itemId ? { ...rest, [data.userId]: { itemId: data.itemId, until: now + ttlMs } } : rest;
}

/** The map without one key (the same map when the key is absent). */
export function without(map, key) {
  if (!(key in map)) return map;
  const { [key]: _gone, ...rest } = map;
  return rest;
}

/** The map without the entries whose time is up (the same map when none is). */
export function expired(map, now) {
  if (!Object.values(map).some((v) => v.until <= now)) return map;
  return Object.fromEntries(Object.entries(map).filter(([, v]) => v.until > now));
}

/** itemId -> [{userId, name, look}] of the people who have it open. */
export function viewersByItem(viewing, names, looks) {
  const out = {};
  for (const [userId, v] of Object.entries(viewing)) {
    (out[v.itemId] ||= []).push({ userId, name: names[userId] || 'Someone', look: looks[userId] });
  }
  return out;
}

/** Flash an item in its changer's colour until `until`. */
export function flashAfter(flashes, change, { color, now, ms }) {
  if (!change?.itemId) return flashes;
  return { ...flashes, [change.itemId]: { userId: change.userId, who: change.who, color, until: now + ms } };
}

/** Should this page tell the room (again) which item it has open? */
export function viewingDue(last, itemId, now, repeatMs) {
  return itemId !== last.itemId || Boolean(itemId && now - last.sentAt > repeatMs);
}
