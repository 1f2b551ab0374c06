// Names from the wire contract (docs/asyncapi.yaml), in one place.
// Pure constants: safe to import from Node for tests.

/** WebSocket close codes (docs/asyncapi.yaml). */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001, // server shutting down -> reconnect
  ABNORMAL: 1006, // no close frame (network drop, refused handshake)
  IDLE_TIMEOUT: 4000,
  TOKEN_EXPIRED: 4001, // ask for a new token, no auto-reconnect
  ADMIN_DISCONNECT: 4003, // show a message, no auto-reconnect
  POLICY: 4008, // abuse past rate limits -> reconnect, slowly
  TOO_SLOW: 4009, // could not keep up -> reconnect and recover with lastSeq
  TAKEN_OVER: 4010, // the session was resumed on another connection -> no auto-reconnect (it would take it back)
});

/** Error codes carried by `error` frames and REST error bodies. */
export const ErrorCode = Object.freeze({
  BAD_REQUEST: 'BAD_REQUEST',
  UNKNOWN_EVENT: 'UNKNOWN_EVENT',
  VALIDATION_ERROR: 'VALIDATION_ERROR',
  TRIP_NOT_FOUND: 'TRIP_NOT_FOUND',
  FORBIDDEN: 'FORBIDDEN',
  NOT_IN_ROOM: 'NOT_IN_ROOM',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  INVALID_TOKEN: 'INVALID_TOKEN',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
});

/**
 * Errors after which the server accepted nothing, so the same change may be
 * retried under a *fresh* ref (the old ref's cached answer is this error).
 */
export const RETRY_WITH_NEW_REF = new Set([
  ErrorCode.NOT_IN_ROOM,
  ErrorCode.RATE_LIMITED,
  ErrorCode.UNAVAILABLE,
]);

/** Client -> server events. */
export const ClientEvent = Object.freeze({
  JOIN: 'join_trip_room',
  LEAVE: 'leave_trip_room',
  TRIP_UPDATE: 'trip_update',
  CHAT: 'chat_message',
  TYPING: 'typing',
  PRESENCE: 'presence_update',
  REFRESH_TOKEN: 'refresh_token',
});

/** Server -> client events. */
export const ServerEvent = Object.freeze({
  CONNECTED: 'connected',
  ERROR: 'error',
  ROOM_JOINED: 'trip_room_joined',
  ROOM_LEFT: 'trip_room_left',
  USER_JOINED: 'user_joined',
  USER_LEFT: 'user_left',
  PRESENCE_SUMMARY: 'presence_summary', // a large room's joins and leaves, once per interval
  TRIP_UPDATED: 'trip_updated',
  CHAT: 'chat_message',
  USER_TYPING: 'user_typing',
  USER_VIEWING: 'user_viewing', // an extension: PUT /api/trips/{tripId}/viewing
  PRESENCE_UPDATED: 'user_presence_updated',
  TOKEN_REFRESHED: 'token_refreshed',
  TOKEN_EXPIRING: 'token_expiring',
  NOTIFICATION: 'notification',
  BROADCAST: 'broadcast',
});

/** updateType values a client may send in `trip_update`. */
export const UPDATE_TYPES = Object.freeze([
  'day_added',
  'day_removed',
  'activity_added',
  'activity_updated',
  'activity_removed',
  'constraint_added',
  'constraint_removed',
]);

/** updateType values only the server produces. */
export const SERVER_UPDATE_TYPES = Object.freeze([
  'snapshot',
  'collaborator_added',
  'collaborator_removed',
]);

export const CHAT_TYPES = Object.freeze(['text', 'suggestion', 'alert']);
export const PRESENCE_STATUSES = Object.freeze(['online', 'away', 'busy', 'offline']);
export const BROADCAST_TYPES = Object.freeze(['announcement', 'alert', 'maintenance']);
export const ACTIVITY_FIELDS = Object.freeze(['title', 'startTime', 'endTime', 'location', 'notes', 'cost']);

export const LIMITS = Object.freeze({
  chatMessage: 1000,
  activityTitle: 200,
  dayTitle: 200,
  location: 200,
  notes: 2000,
  constraintType: 50,
  constraintDescription: 500,
  tripTitle: 200,
  broadcastMessage: 1000,
  ref: 64,
});

export const OBJECT_ID_RE = /^[0-9a-fA-F]{24}$/;
export const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
export const TIME_RE = /^([01]\d|2[0-3]):[0-5]\d$/;
