// The reconnecting WebSocket and the outbox of changes awaiting the server.
//
// Outbox rules (what makes "apply once, never twice" hold):
//  * every chat message and trip update gets a `ref` when the user makes it;
//    the entry keeps that ref until the server answers it, so a resend after a
//    drop (answer unknown) reuses it and the server's idempotency applies it
//    once;
//  * a fresh ref is used only when the server *refused* the attempt
//    (NOT_IN_ROOM, RATE_LIMITED, UNAVAILABLE: nothing was accepted), because
//    the old ref's cached answer is that refusal;
//  * trip updates of one trip go one at a time (the next waits for the
//    previous one's answer), so a later edit can be re-based past the user's
//    own earlier one and steps of a move stay ordered;
//  * entries are sent only once their trip's room is joined on the current
//    connection.
//
// No DOM here; the WebSocket constructor is injected, so Node can test it.

import { backoffDelay } from './util.js';
import { CloseCode, ServerEvent } from './protocol.js';

export class Outbox {
  constructor() {
    /** @type {Array<object>} in creation order */
    this.entries = [];
  }

  /**
   * Queue a frame. entry: {id, ref, event, tripId, kind: 'chat'|'trip',
   * payload (frame data without baseVersion), baseVersion?, chainBase?,
   * group?, intent?, summary?}
   */
  add(entry) {
    const e = {
      attempts: 0,
      sentOn: null,
      sentAt: 0,
      everSent: false,
      notBefore: 0,
      baseVersion: null,
      chainBase: false,
      group: null,
      ...entry,
    };
    this.entries.push(e);
    return e;
  }

  get size() {
    return this.entries.length;
  }

  byRef(ref) {
    return ref == null ? null : this.entries.find((e) => e.ref === ref) || null;
  }

  forTrip(tripId) {
    return this.entries.filter((e) => e.tripId === tripId);
  }

  /** The frame to put on the wire for an entry. */
  static frameOf(entry) {
    const data = { ...entry.payload };
    if (entry.kind === 'trip' && entry.baseVersion != null) data.baseVersion = entry.baseVersion;
    return { event: entry.event, data, ref: entry.ref };
  }

  /**
   * Entries to send now on connection `connId`, marked as sent.
   * isReady(tripId) says whether that trip's room is joined on this connection.
   */
  takeSendable(connId, isReady, now = 0) {
    const out = [];
    const tripHeadSeen = new Set();
    for (const e of this.entries) {
      if (!isReady(e.tripId)) continue;
      if (e.kind === 'trip') {
        if (tripHeadSeen.has(e.tripId)) continue; // one trip update in flight per trip
        tripHeadSeen.add(e.tripId);
      }
      if (e.sentOn === connId || e.notBefore > now) continue;
      e.sentOn = connId;
      e.sentAt = now;
      e.everSent = true;
      e.attempts += 1;
      out.push(e);
    }
    return out;
  }

  /** The server answered `ref` with success: drop it. Returns the entry or null. */
  ack(ref) {
    const idx = ref == null ? -1 : this.entries.findIndex((e) => e.ref === ref);
    if (idx === -1) return null;
    const [entry] = this.entries.splice(idx, 1);
    return entry;
  }

  /**
   * The server refused `ref` for good: drop it and the later steps of its
   * group. Returns {entry, dropped} or null.
   */
  fail(ref) {
    const entry = this.ack(ref);
    if (!entry) return null;
    let dropped = [];
    if (entry.group) {
      dropped = this.entries.filter((e) => e.group === entry.group);
      this.entries = this.entries.filter((e) => e.group !== entry.group);
    }
    return { entry, dropped };
  }

  /** Retry a refused attempt later under a fresh ref. */
  retryWithNewRef(ref, newRef, notBefore = 0) {
    const entry = this.byRef(ref);
    if (!entry) return null;
    entry.ref = newRef;
    entry.sentOn = null;
    entry.notBefore = notBefore;
    return entry;
  }

  /** Remove an entry the user cancels; only if it never left the browser. */
  cancel(id) {
    const entry = this.entries.find((e) => e.id === id);
    if (!entry || entry.everSent) return false;
    this.entries = this.entries.filter((e) => e.id !== id && !(entry.group && e.group === entry.group));
    return true;
  }

  /** Entries sent on `connId` with no answer for `timeoutMs`: mark for resend (same ref). */
  expireUnanswered(connId, now, timeoutMs) {
    const stale = [];
    for (const e of this.entries) {
      if (e.sentOn === connId && now - e.sentAt >= timeoutMs) {
        e.sentOn = null;
        stale.push(e);
      }
    }
    return stale;
  }

  /**
   * After the trip update `acked` was applied at `version`:
   *  - the next step of its group that waits on it gets baseVersion = version;
   *  - other queued updates of the trip are re-based when allowed(from, to).
   */
  rebaseAfter(acked, version, allowed) {
    for (const e of this.entries) {
      if (e.kind !== 'trip' || e.tripId !== acked.tripId || e.everSent) continue;
      if (e.chainBase && acked.group && e.group === acked.group) {
        e.baseVersion = version;
        e.chainBase = false;
      } else if (e.baseVersion != null && e.baseVersion < version && allowed(e.baseVersion, version)) {
        e.baseVersion = version;
      }
    }
  }

  /** Drop everything (sign-out / different user). */
  clear() {
    this.entries = [];
  }
}

/**
 * A WebSocket that reconnects with capped exponential back-off and jitter.
 *
 * An attempt (the address, the upgrade, then the server's `connected`) has its own
 * deadline, `attemptMs`: one whose handshake went through a network that died
 * meanwhile may stay open and never hear the server (no frame, no error, no close),
 * and is abandoned then, not waited on for ever.
 *
 * Callbacks:
 *   onFrame(obj)                     - a parsed server frame
 *   onState(state, detail)           - 'connecting' | 'open' | 'reconnecting' |
 *                                      'expired' | 'kicked' | 'replaced' | 'stopped'
 *   beforeReconnect(): Promise<bool> - false stops reconnecting (e.g. token gone)
 */
export class ReconnectingSocket {
  constructor({ url, onFrame, onState, beforeReconnect, WebSocketImpl, random = Math.random, timers = globalThis, now = () => performance.now(), capMs = 10_000, attemptMs = 10_000 } = {}) {
    this.url = url;
    this.onFrame = onFrame || (() => {});
    this.onState = onState || (() => {});
    this.beforeReconnect = beforeReconnect || (async () => true);
    this.WebSocketImpl = WebSocketImpl || globalThis.WebSocket;
    this.random = random;
    this.timers = timers;
    this.capMs = capMs;
    this.attemptMs = attemptMs;
    this.now = now; // the clock of reconnectNow's networkBackAt (the page's Connectivity)
    this.ws = null;
    this.answered = false; // the current connection has had its `connected` from the server
    this.deadline = null; // the current attempt's, until the server answers it
    this.attemptStartedAt = 0; // by this.now(): when the current attempt was made
    this.connId = 0;
    this.attempt = 0;
    this.state = 'idle';
    this.stopped = true;
    this.timer = null;
    this.nextAttemptAt = 0;
    this.everOpened = false;
  }

  get isOpen() {
    return Boolean(this.ws && this.ws.readyState === 1);
  }

  start() {
    this.stopped = false;
    this._clearTimer();
    this._open();
  }

  /** Close for good (sign-out); no reconnect. */
  stop(code = CloseCode.NORMAL, reason = 'client closing') {
    this.stopped = true;
    this._clearTimer();
    this._abandon(code, reason);
    this._setState('stopped', {});
  }

  /** Drop the current connection (if any) and connect again at once. */
  restart() {
    this.stop();
    this.attempt = 0;
    this.stopped = false;
    this._open({ fresh: true });
  }

  /**
   * The server can be reached (the heartbeat is answered, the network is back, the user asks):
   * connect now, skipping what is left of the back-off wait. An attempt the server has not
   * answered yet is replaced only if it started before `networkBackAt` (the last time the
   * network was seen coming back): its handshake may have been lost while the network was gone.
   * One started since is left to its own deadline, however long the server takes to answer:
   * replacing it would cost a ticket and a resume each time and never let the back-off grow,
   * keeping a reconnect storm going. A connection the server has answered is always kept.
   */
  reconnectNow(networkBackAt = -Infinity) {
    if (this.stopped || (this.ws && this.answered)) return;
    if (this.deadline !== null) {
      if (!(this.attemptStartedAt < networkBackAt)) return; // under way since the network was seen up
    } else if (this.timer === null) {
      return; // nothing waits: no back-off to skip
    }
    this._clearTimer();
    this._abandon();
    this._open();
  }

  /** The connection is dead though the browser has not noticed (offline, no heartbeat): let it go and retry. */
  drop() {
    if (this.stopped || !this.ws) return;
    this._abandon();
    this._scheduleReconnect({ code: CloseCode.ABNORMAL, reason: 'connection lost' });
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  _setState(state, detail) {
    this.state = state;
    this.onState(state, detail);
  }

  _clearTimer() {
    if (this.timer) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  _clearDeadline() {
    if (this.deadline) this.timers.clearTimeout(this.deadline);
    this.deadline = null;
  }

  /** Let the current connection or attempt go: nothing it does later reaches us. */
  _abandon(code, reason) {
    this._clearDeadline();
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    try {
      ws.close(code, reason);
    } catch {
      /* already closed */
    }
  }

  /** An attempt the server has not answered within `attemptMs` is given up, and another scheduled. */
  _armDeadline(connId) {
    this._clearDeadline();
    this.deadline = this.timers.setTimeout(() => {
      this.deadline = null;
      if (this.stopped || this.connId !== connId) return;
      this.connId += 1; // its address, if a request for it is still under way, is moot now
      this._abandon();
      this._scheduleReconnect({ code: CloseCode.ABNORMAL, reason: 'the server did not answer' });
    }, this.attemptMs);
  }

  _open({ fresh = false } = {}) {
    const connId = ++this.connId;
    const retrying = !fresh && (this.everOpened || this.attempt > 0);
    this.answered = false;
    this.attemptStartedAt = this.now();
    this._armDeadline(connId);
    this._setState(retrying ? 'reconnecting' : 'connecting', { attempt: this.attempt, delay: 0 });
    let target;
    try {
      target = this.url();
    } catch (err) {
      this._scheduleReconnect({ code: CloseCode.ABNORMAL, reason: String(err?.message || err) });
      return;
    }
    if (!target || typeof target.then !== 'function') {
      this._connect(target, connId);
      return;
    }
    // An address that takes a request (a single-use ticket): a stop, restart or
    // newer attempt meanwhile makes this one moot.
    const current = () => !this.stopped && this.connId === connId;
    target.then(
      (url) => current() && this._connect(url, connId),
      (err) => current() && this._scheduleReconnect({ code: CloseCode.ABNORMAL, reason: String(err?.message || err) }),
    );
  }

  _connect(url, connId) {
    let ws;
    try {
      ws = new this.WebSocketImpl(url);
    } catch (err) {
      this._scheduleReconnect({ code: CloseCode.ABNORMAL, reason: String(err?.message || err) });
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.everOpened = true;
      this._setState('open', { connId });
    };
    ws.onmessage = (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (!frame || typeof frame !== 'object') return;
      // `connected` is always the server's first frame: it, not any frame, completes the
      // attempt (one whose `connected` was lost on the way is no connection the page can use)
      if (!this.answered && frame.event === ServerEvent.CONNECTED) {
        this.answered = true;
        this._clearDeadline();
        this.attempt = 0; // the server spoke: back-off starts over next time
      }
      this.onFrame(frame, connId);
    };
    ws.onerror = () => {
      /* onclose follows and decides */
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this._clearDeadline();
      this._handleClose(ev);
    };
  }

  _handleClose(ev) {
    const code = ev?.code ?? CloseCode.ABNORMAL;
    const reason = ev?.reason || '';
    if (this.stopped) return;
    if (code === CloseCode.TOKEN_EXPIRED) {
      this.stopped = true;
      this._setState('expired', { code, reason });
      return;
    }
    if (code === CloseCode.ADMIN_DISCONNECT) {
      this.stopped = true;
      this._setState('kicked', { code, reason });
      return;
    }
    if (code === CloseCode.TAKEN_OVER) {
      this.stopped = true;
      this._setState('replaced', { code, reason });
      return;
    }
    this._scheduleReconnect({ code, reason });
  }

  _scheduleReconnect({ code, reason }) {
    this._clearDeadline();
    this.attempt += 1;
    let delay = backoffDelay(this.attempt, { cap: this.capMs, random: this.random });
    if (code === CloseCode.POLICY) delay = Math.max(delay, this.capMs / 2); // we were too chatty
    this.nextAttemptAt = Date.now() + delay;
    this._setState('reconnecting', { attempt: this.attempt, delay, code, reason });
    this._clearTimer();
    this.timer = this.timers.setTimeout(async () => {
      this.timer = null;
      if (this.stopped) return;
      let go = true;
      try {
        go = await this.beforeReconnect({ attempt: this.attempt, code });
      } catch {
        go = true;
      }
      if (this.stopped) return;
      if (!go) {
        this.stopped = true;
        this._setState('expired', { code, reason: 'token no longer valid' });
        return;
      }
      this._open();
    }, delay);
  }
}
