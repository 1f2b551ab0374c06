// Is this page online? The browser's online/offline events say so at once; a
// heartbeat (GET /healthz) catches a network that died without telling the
// browser, which a WebSocket alone can take a minute to notice.

export class Connectivity {
  /**
   * @param {{healthy: () => Promise<boolean>, active: () => boolean, connected: () => boolean,
   *          onOffline: () => void, onOnline: () => void, onReachable: () => void, everyMs?: number}} deps
   */
  constructor({ healthy, active, connected, onOffline, onOnline, onReachable, everyMs = 5000, win = globalThis }) {
    this.healthy = healthy;
    this.active = active;
    this.connected = connected;
    this.onOffline = onOffline;
    this.onOnline = onOnline;
    this.onReachable = onReachable;
    this.everyMs = everyMs;
    this.win = win;
    this.offline = false;
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
    if (!ok && this.connected()) this.lost();
    else if (ok && this.offline) this.back();
    // The server answers while the socket is down: try now, not at the end of a back-off
    // that grew while the network was gone.
    else if (ok && !this.connected()) this.onReachable();
  }

  lost() {
    this.offline = true;
    this.onOffline();
  }

  back() {
    this.offline = false;
    this.onOnline();
  }

  /** The server spoke: whatever the heartbeat thought, we are online. */
  heard() {
    this.offline = false;
  }
}
