// The trip's parts in plain words for people: field names ("start time", not
// `startTime`), days by their date ("Fri 1 May 2026 “Alfama”", not an id) and
// constraints by what they mean ("the trip budget of €100.00", not JSON). Pure.

import { constraintWords, kindOf } from './money.js';
import { formatDay } from './util.js';

const FIELD_WORDS = {
  title: 'title',
  startTime: 'start time',
  endTime: 'end time',
  location: 'place',
  notes: 'notes',
  cost: 'cost',
  date: 'date',
  position: 'place in the day',
  value: 'value',
  description: 'note',
  type: 'kind',
};

const q = (s) => `“${s}”`;

/** One field of the wire in words: `startTime` -> "start time" (an unknown one de-camel-cased). */
export function fieldWord(field) {
  const key = String(field ?? '');
  return FIELD_WORDS[key] ?? key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
}

/** Several fields: "start time", "start time and cost", "title, start time and cost". */
export function fieldList(fields) {
  const words = [...new Set([...(fields || [])].map(fieldWord))];
  if (words.length <= 1) return words[0] ?? 'details';
  return `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

/** A day as people name it: its date (and title), never its id. */
export function dayWords(day) {
  if (!day) return 'a day';
  const date = day.date ? formatDay(day.date) : 'a day';
  return day.title ? `${date} ${q(day.title)}` : date;
}

/** A constraint as people read it: "the trip budget of €100.00", "dietary needs: vegan". */
export function constraintPhrase(c) {
  if (!c) return 'a budget or need';
  const { label, text } = constraintWords(c);
  const kind = String(label).toLowerCase();
  if (!text) return `the ${kind}`;
  return ['budget', 'daily_budget'].includes(kindOf(c.type)) ? `the ${kind} of ${text}` : `${kind}: ${text}`;
}

/**
 * A server's words for people: field paths and codes inside a message become plain
 * ("activity.endTime: must be after startTime (09:00)" -> "end time: must be after start time (09:00)").
 */
export function plainText(text) {
  return String(text ?? '')
    .replace(/\b(?:[a-z]+\.)+([a-zA-Z]+)\b/g, (_, last) => fieldWord(last))
    .replace(/\b[a-z]+(?:[A-Z][a-z]+)+\b/g, (word) => fieldWord(word));
}

/** A refusal's details ({field: [messages]}) as one line of plain words. */
export function detailsWords(details) {
  if (!details || typeof details !== 'object') return '';
  return Object.entries(details)
    .map(([field, msgs]) => `${fieldWord(String(field).split('.').at(-1))}: ${plainText(Array.isArray(msgs) ? msgs.join(', ') : typeof msgs === 'object' ? '' : msgs)}`)
    .join('; ');
}
