// Is this page online? The browser's online/offline events say so at once; a
// heartbeat (GET /healthz) catches a network that died without telling the
// browser, which a WebSocket alone can take a minute to notice.
//
// It also knows when the network was last seen coming back (`backAt`): a reconnect
// attempt made before then may have lost its handshake with the network, one made
// since has not (see ReconnectingSocket.reconnectNow).

export class Connectivity {
  /**
   * @param {{healthy: () => Promise<boolean>, active: () => boolean, connected: () => boolean,
   *          onOffline: () => void, onOnline: () => void, onReachable: () => void, everyMs?: number,
   *          now?: () => number}} deps
   */
  constructor({ healthy, active, connected, onOffline, onOnline, onReachable, everyMs = 5000, win = globalThis, now = () => performance.now() }) {
    this.healthy = healthy;
    this.active = active;
    this.connected = connected;
    this.onOffline = onOffline;
    this.onOnline = onOnline;
    this.onReachable = onReachable;
    this.everyMs = everyMs;
    this.win = win;
    this.now = now;
    this.offline = false;
    this.down = false; // the network was seen down (an event, an unanswered beat) and not back since
    this.backAt = -Infinity; // by this.now(): when it was last seen coming back
  }

  start() {
    this.win.addEventListener('offline', () => this.lost());
    this.win.addEventListener('online', () => this.back());
    this.timer = setInterval(() => this.beat(), this.everyMs);
  }

  stop() {
    clearInterval(this.timer);
  }

  async beat() {
    if (!this.active()) return;
    if (this.win.navigator && !this.win.navigator.onLine) return this.lost();
    const ok = await this.healthy();
    if (!ok) {
      this.down = true; // a socket already reconnecting says so itself
      if (this.connected()) this.lost();
      return;
    }
    if (this.offline) return this.back();
    this._seenUp();
    // The server answers while the socket is down: try now, not at the end of a back-off
    // that grew while the network was gone.
    if (!this.connected()) this.onReachable();
  }

  lost() {
    this.offline = true;
    this.down = true;
    this.onOffline();
  }

  back() {
    this.offline = false;
    this.down = true; // the browser's `online` says so too: it was down until now
    this._seenUp();
    this.onOnline();
  }

  /** The server spoke: whatever the heartbeat thought, we are online. */
  heard() {
    this.offline = false;
    this._seenUp();
  }

  _seenUp() {
    if (!this.down) return;
    this.down = false;
    this.backAt = this.now();
  }
}
