// The connection as people see it: the header's pill (in words: "connected",
// "reconnecting…", "offline"; the finer state in its data-state), the offline
// banner, the reconnect banner saying why and when, and the session banner for a
// connection that will not come back by itself (expired, disconnected by an
// administrator, taken over by another tab).

import { CloseCode } from './protocol.js';

export const STATUS_TEXT = Object.freeze({ connected: 'connected', reconnecting: 'reconnecting…', offline: 'offline' });

/** What a session banner says and what its button does, by why the connection ended. */
export const SESSION_BANNERS = Object.freeze({
  expired: { text: 'Your session expired. Sign in again to reconnect; your unsent changes are kept on this device.', action: 'Sign in again' },
  kicked: { text: 'An administrator disconnected you.', action: 'Reconnect' },
  replaced: { text: 'This session went on in another tab or device.', action: 'Use it here' },
});

/** "The server is restarting. Reconnecting in 3s… 2 changes not synced yet, kept on this device." */
export function reconnectWords(dropCode, secondsLeft, unsent) {
  const why = dropCode === CloseCode.GOING_AWAY ? 'The server is restarting. ' : dropCode === CloseCode.POLICY ? 'Too many messages. ' : 'Connection lost. ';
  const queued = unsent ? ` ${unsent} change${unsent === 1 ? '' : 's'} not synced yet, kept on this device.` : '';
  return secondsLeft > 0 ? `${why}Reconnecting in ${secondsLeft}s…${queued}` : `${why}Reconnecting…${queued}`;
}

export class ConnectionView {
  /**
   * @param {(testid: string) => HTMLElement} find
   */
  constructor(find) {
    this.pill = find('connection-status');
    this.offlineBanner = find('offline-banner');
    this.reconnectBanner = find('reconnect-banner');
    this.reconnectText = find('reconnect-text');
    this.sessionBanner = find('session-banner');
    this.sessionText = find('session-text');
    this.sessionAction = find('session-action');
  }

  /** The pill; `offline` (the browser or the heartbeat said so) wins over every state but connected. */
  status(kind, state, offline) {
    const off = offline && state !== 'connected';
    this.pill.textContent = STATUS_TEXT[off ? 'offline' : kind];
    this.pill.dataset.state = off ? 'offline' : state;
    this.offlineBanner.hidden = !off;
    if (off) this.reconnectBanner.hidden = true;
  }

  /** Reconnecting by itself: the banner says why and when. */
  reconnecting(words) {
    this.reconnectBanner.hidden = false;
    this.reconnectText.textContent = words;
  }

  get isReconnecting() {
    return !this.reconnectBanner.hidden;
  }

  /** Not reconnecting (connected, stopped, or waiting for the person). */
  settled() {
    this.reconnectBanner.hidden = true;
  }

  /** A connection that waits for the person: SESSION_BANNERS[why], its button doing `onAction`. */
  session(why, onAction) {
    const { text, action } = SESSION_BANNERS[why];
    this.settled();
    this.sessionBanner.hidden = false;
    this.sessionText.textContent = text;
    this.sessionAction.textContent = action;
    this.sessionAction.onclick = onAction;
  }

  clearSession() {
    this.sessionBanner.hidden = true;
  }
}
