// Checks a person gets told about before anything is sent (the server makes
// the same ones: domain/itinerary.py). Pure.

const minutes = (hhmm) => {
  const m = /^(\d{2}):(\d{2})$/.exec(String(hhmm ?? ''));
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
};

/** An error message when an activity would end before (or when) it starts, else null. */
export function timesProblem(startTime, endTime) {
  const start = minutes(startTime);
  const end = minutes(endTime);
  if (start === null || end === null) return null;
  return end > start ? null : `It ends (${endTime}) before it starts (${startTime}).`;
}

/** An error message when another day of the trip already has this date, else null. */
export function dateProblem(trip, date, exceptDayId = null) {
  const taken = (trip?.days || []).find((d) => d.date === date && d.dayId !== exceptDayId);
  if (!taken) return null;
  return `There is already a day on ${date}${taken.title ? ` (${taken.title})` : ''}.`;
}
