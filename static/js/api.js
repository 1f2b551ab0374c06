// REST client for the endpoints of docs/openapi.yaml. Errors arrive as
// {"error":{code, message, details?}} and are thrown as ApiError.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || `HTTP_${status}`;
    this.details = details || null;
  }
}

/** Flatten `details` ({field: [messages]}) into one readable line. */
export function detailsText(details) {
  if (!details || typeof details !== 'object') return '';
  return Object.entries(details)
    .map(([field, msgs]) => `${field}: ${Array.isArray(msgs) ? msgs.join(', ') : typeof msgs === 'object' ? JSON.stringify(msgs) : msgs}`)
    .join('; ');
}

export class Api {
  /** @param {() => string|null} getToken */
  constructor(getToken, fetchImpl = (...args) => globalThis.fetch(...args)) {
    this.getToken = getToken;
    this.fetch = fetchImpl;
  }

  async request(method, path, body, { timeoutMs = 0 } = {}) {
    const headers = { Accept: 'application/json' };
    const token = this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    const abort = timeoutMs ? new AbortController() : null;
    const timer = abort ? setTimeout(() => abort.abort(), timeoutMs) : null;
    try {
      res = await this.fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: abort?.signal });
    } catch (err) {
      throw new ApiError(0, 'NETWORK', 'The server could not be reached.', null);
    } finally {
      if (timer) clearTimeout(timer);
    }
    let json = null;
    const text = await res.text();
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    }
    if (!res.ok) {
      const e = json && json.error ? json.error : {};
      throw new ApiError(res.status, e.code, e.message || res.statusText, e.details);
    }
    return json;
  }

  createTrip(title) {
    return this.request('POST', '/api/trips', { title });
  }
  getTrip(tripId) {
    return this.request('GET', `/api/trips/${encodeURIComponent(tripId)}`);
  }
  addCollaborator(tripId, userId) {
    return this.request('POST', `/api/trips/${encodeURIComponent(tripId)}/collaborators`, { userId });
  }
  /** An invite link's invite: whoever opens the link, signed in, joins the trip. */
  createInvite(tripId) {
    return this.request('POST', `/api/trips/${encodeURIComponent(tripId)}/invites`);
  }
  acceptInvite(invite) {
    return this.request('POST', '/api/invites/accept', { invite });
  }
  removeCollaborator(tripId, userId) {
    return this.request('DELETE', `/api/trips/${encodeURIComponent(tripId)}/collaborators/${encodeURIComponent(userId)}`);
  }
  messages(tripId, { limit = 50, before } = {}) {
    const qs = new URLSearchParams({ limit: String(limit) });
    if (before) qs.set('before', before);
    return this.request('GET', `/api/trips/${encodeURIComponent(tripId)}/messages?${qs}`);
  }
  notifications({ unread = false } = {}) {
    return this.request('GET', `/api/notifications${unread ? '?unread=true' : ''}`);
  }
  markNotificationRead(id) {
    return this.request('POST', `/api/notifications/${encodeURIComponent(id)}/read`);
  }
  connections() {
    return this.request('GET', '/api/realtime/connections');
  }
  broadcast(message, type) {
    return this.request('POST', '/api/realtime/broadcast', { message, type });
  }
  disconnect(userId) {
    return this.request('POST', `/api/realtime/disconnect/${encodeURIComponent(userId)}`);
  }
  notify(body) {
    return this.request('POST', '/api/realtime/notify', body);
  }
  /** Tell the room which item (day, activity, constraint) this person has open, or null. */
  setViewing(tripId, itemId) {
    return this.request('PUT', `/api/trips/${encodeURIComponent(tripId)}/viewing`, { itemId });
  }
  people() {
    return this.request('GET', '/api/people');
  }
  /** A single-use ticket for /ws?ticket=, so the token stays out of the socket's address. */
  ticket() {
    return this.request('POST', '/api/realtime/tickets', undefined, { timeoutMs: 5000 });
  }
  devPeople() {
    return this.request('GET', '/api/dev/sign-in');
  }
  devSignIn(userId) {
    return this.request('POST', '/api/dev/sign-in', { userId });
  }
  async healthy(timeoutMs = 4000) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const res = await this.fetch('/healthz', { cache: 'no-store', signal: abort.signal });
      return res.ok;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
