// Session resume (docs/asyncapi.yaml, "Resuming a session"): the page keeps the
// token each `connected` frame gives, asks for its session back when it
// reconnects (same sessionId, its room given back with what it missed, and no
// user_left shown to the others), and joins its room itself only when the
// server did not give it back.
//
// No DOM here: Node tests it (resume.test.mjs).

/** What to keep from a `connected` frame (null: the server offers no resume). */
export function remember(data) {
  if (!data || typeof data.resumeToken !== 'string' || !data.resumeToken) return null;
  return { token: data.resumeToken, sessionId: data.sessionId };
}

/** The query parameters that ask for the session back ({} without a token). */
export function resumeQuery(resume, room) {
  if (!resume) return {};
  const query = { resume: resume.token };
  if (room && room.tripId && Number(room.lastSeq) > 0) query.lastSeq = `${room.tripId}:${room.lastSeq}`;
  return query;
}

/** Whether the page must join `tripId` itself after this `connected` frame. */
export function mustJoin(data, tripId) {
  return !(data && data.resumed === true && Array.isArray(data.rooms) && data.rooms.includes(tripId));
}
