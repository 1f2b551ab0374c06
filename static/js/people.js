// Who is who on screen: avatar labels and colours that tell people apart,
// names instead of ids, presence in words. Pure.

import { hashString, initials } from './util.js';

// Hues chosen far apart; each at a lightness that keeps white text above 4.5:1.
const PALETTE = ['#1f5fa8', '#a33a00', '#2e7d32', '#7b3fa0', '#b0205a', '#00707a', '#6d5200', '#4a4fb3', '#8a3b12', '#3f6b2a'];

export const STATUS_WORDS = { online: 'online', away: 'away', busy: 'busy', offline: 'offline', hidden: 'hidden' };

/**
 * Avatar label and colour for each user of a group, distinct where possible:
 * same initials get longer labels ("Ana" / "Ant"), colours are taken in turn
 * from the palette, starting from each id's own. Returns {userId: {label, color}}.
 */
export function avatarLooks(people) {
  const list = [...(people || [])].filter((p) => p?.userId).sort((a, b) => (a.userId < b.userId ? -1 : 1));
  const labels = {};
  const byInitials = {};
  for (const p of list) (byInitials[initials(p.name, p.userId)] ||= []).push(p);
  for (const [short, group] of Object.entries(byInitials)) {
    for (const p of group) {
      if (group.length === 1) labels[p.userId] = short;
      else {
        const first = String(p.name ?? '').trim().split(/\s+/)[0];
        labels[p.userId] = first ? first.slice(0, 3) : p.userId.slice(-3);
        labels[p.userId] = labels[p.userId][0].toUpperCase() + labels[p.userId].slice(1).toLowerCase();
      }
    }
  }
  const used = new Set();
  const looks = {};
  for (const p of list) {
    let i = hashString(p.userId) % PALETTE.length;
    for (let n = 0; n < PALETTE.length && used.has(PALETTE[i]); n++) i = (i + 1) % PALETTE.length;
    used.add(PALETTE[i]);
    looks[p.userId] = { label: labels[p.userId], color: PALETTE[i] };
  }
  return looks;
}

/** A person's colour when no group is known: from the same palette. */
export function colorOf(userId) {
  return PALETTE[hashString(String(userId ?? '')) % PALETTE.length];
}

/** A name for a user id: known name, else a neutral word (never the hex id). */
export function nameOf(userId, names, selfId = null) {
  if (userId && userId === selfId) return 'You';
  return names?.[userId] || 'Someone';
}
