// Typed constraints and money: what a constraint's value means, day and trip
// totals, and whether a day or the trip goes over budget. Pure (no DOM), so
// `node --test static/js/` drives it.
//
// Constraint values the page writes (the wire accepts any JSON; older trips
// may hold a bare number or text, which still reads):
//   budget        {amount, currency}    the whole trip
//   daily_budget  {amount, currency}    each day
//   dietary       ["vegetarian", ...]
//   pace          "relaxed" | "balanced" | "packed"
//   anything else: text

export const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'JPY', 'BRL'];
export const DIETARY = ['vegetarian', 'vegan', 'gluten-free', 'halal', 'kosher', 'no nuts', 'lactose-free'];
export const PACES = { relaxed: 'Relaxed', balanced: 'Balanced', packed: 'Packed' };
export const CONSTRAINT_KINDS = {
  budget: 'Trip budget',
  daily_budget: 'Daily spending limit',
  dietary: 'Dietary needs',
  pace: 'Pace',
  note: 'Other',
};
const LEGACY_KINDS = { max_daily_cost: 'daily_budget' };

/** The kind a constraint's type names, as this page knows it (or null). */
export function kindOf(type) {
  const t = String(type ?? '').trim().toLowerCase();
  if (t in CONSTRAINT_KINDS) return t;
  return LEGACY_KINDS[t] ?? null;
}

/** {amount, currency} from a budget value: {amount, currency}, a bare number, or "900 EUR". */
export function readMoney(value, fallbackCurrency = null) {
  if (typeof value === 'number' && Number.isFinite(value)) return { amount: value, currency: fallbackCurrency };
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const amount = Number(value.amount);
    if (Number.isFinite(amount)) return { amount, currency: typeof value.currency === 'string' ? value.currency : fallbackCurrency };
  }
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:[.,]\d+)?)\s*([A-Za-z]{3})?\s*$/.exec(value);
    if (m) return { amount: Number(m[1].replace(',', '.')), currency: m[2]?.toUpperCase() ?? fallbackCurrency };
  }
  return null;
}

export function formatMoney(amount, currency) {
  if (typeof amount !== 'number' || !Number.isFinite(amount)) return '';
  if (currency) {
    try {
      return new Intl.NumberFormat('en-GB', { style: 'currency', currency, maximumFractionDigits: 2 }).format(amount);
    } catch {
      /* not an ISO currency: plain number and code */
    }
  }
  const plain = amount.toLocaleString('en-GB', { maximumFractionDigits: 2 });
  return currency ? `${plain} ${currency}` : plain;
}

/** A constraint in words: {label, text}. */
export function constraintWords(c) {
  const kind = kindOf(c?.type);
  const value = c?.value;
  switch (kind) {
    case 'budget':
    case 'daily_budget': {
      const money = readMoney(value);
      return { label: CONSTRAINT_KINDS[kind], text: money ? formatMoney(money.amount, money.currency) : plainValue(value) };
    }
    case 'dietary':
      return { label: CONSTRAINT_KINDS.dietary, text: Array.isArray(value) ? value.join(', ') : plainValue(value) };
    case 'pace':
      return { label: CONSTRAINT_KINDS.pace, text: PACES[value] ?? plainValue(value) };
    default: {
      const type = String(c?.type ?? '').replace(/_/g, ' ');
      return { label: type ? type[0].toUpperCase() + type.slice(1) : 'Note', text: plainValue(value) };
    }
  }
}

function plainValue(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(plainValue).join(', ');
  if (typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}: ${plainValue(v)}`).join(', ');
  return String(value);
}

/**
 * Build the constraint a form asks for. fields: {kind, amount, currency,
 * dietary: [..], pace, text, description}. Returns {ok, constraint} or {ok:false, error}.
 */
export function constraintFromForm(fields) {
  const kind = fields?.kind;
  const description = String(fields?.description ?? '').trim();
  const done = (type, value) => ({ ok: true, constraint: description ? { type, value, description } : { type, value } });
  switch (kind) {
    case 'budget':
    case 'daily_budget': {
      const amount = Number(String(fields.amount ?? '').replace(',', '.'));
      if (String(fields.amount ?? '').trim() === '' || !Number.isFinite(amount) || amount <= 0) {
        return { ok: false, error: 'Enter an amount greater than 0.' };
      }
      const currency = CURRENCIES.includes(fields.currency) ? fields.currency : 'EUR';
      return done(kind, { amount, currency });
    }
    case 'dietary': {
      const picked = (fields.dietary || []).filter((d) => typeof d === 'string' && d.trim());
      if (!picked.length) return { ok: false, error: 'Pick at least one dietary need.' };
      return done('dietary', picked);
    }
    case 'pace':
      if (!(fields.pace in PACES)) return { ok: false, error: 'Pick a pace.' };
      return done('pace', fields.pace);
    case 'note': {
      const text = String(fields.text ?? '').trim();
      if (!text) return { ok: false, error: 'Write the constraint.' };
      return done('note', text);
    }
    default:
      return { ok: false, error: 'Pick what kind of constraint this is.' };
  }
}

/**
 * Totals and limits of a trip: {currency, total, budget, dailyLimit, overTrip,
 * days: {dayId: {total, over}}, share} (share: total / budget, or null).
 */
export function tripMoney(trip) {
  const constraints = trip?.constraints || [];
  const find = (kind) => constraints.map((c) => (kindOf(c.type) === kind ? readMoney(c.value) : null)).find(Boolean) ?? null;
  const budget = find('budget');
  const daily = find('daily_budget');
  const currency = budget?.currency ?? daily?.currency ?? null;
  const days = {};
  let total = 0;
  for (const day of trip?.days || []) {
    const sum = (day.activities || []).reduce((acc, a) => acc + (typeof a.cost === 'number' && Number.isFinite(a.cost) ? a.cost : 0), 0);
    total += sum;
    days[day.dayId] = { total: sum, over: daily ? sum > daily.amount : false };
  }
  const budgetAmount = budget?.amount ?? null;
  return {
    currency,
    total,
    budget: budgetAmount,
    dailyLimit: daily?.amount ?? null,
    overTrip: budgetAmount !== null && total > budgetAmount,
    share: budgetAmount ? total / budgetAmount : null,
    days,
  };
}
