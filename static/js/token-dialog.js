// The "new token" dialog: refresh a session that is ending (over the socket,
// same person) or sign in again after it expired. Focus goes into the dialog
// and back to where it was when it closes.

import { $ } from './ui.js';
import { describeToken } from './util.js';

export class TokenDialog {
  /**
   * @param {HTMLElement} root  [data-testid=token-dialog]
   * @param {{selfId: () => string|null, canRefresh: () => boolean,
   *          refresh: (token: string) => void, signIn: (token: string) => void,
   *          renew?: () => Promise<string|null>}} deps  renew: a new token for the same person
   *          without asking, where the server can give one (the --dev person picker)
   */
  constructor(root, { selfId, canRefresh, refresh, signIn, renew = async () => null }) {
    this.root = root;
    this.renew = renew;
    this.selfId = selfId;
    this.canRefresh = canRefresh;
    this.refresh = refresh;
    this.signIn = signIn;
    this.back = null;
    $('token-dialog-form', root).addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
    $('token-dialog-cancel', root).addEventListener('click', () => this.close());
  }

  /** Stay signed in without pasting when the server can sign the same person in again; else ask. */
  async renewOrOpen(mode) {
    let token = null;
    try {
      token = await this.renew();
    } catch {
      token = null; // not a --dev server: a token comes from the organisation
    }
    if (!token) return this.open(mode);
    if (mode === 'refresh' && this.canRefresh()) return this.refresh(token);
    return this.signIn(token);
  }

  open(mode) {
    this.back = this.root.hidden ? document.activeElement : this.back;
    this.root.hidden = false;
    this.root.dataset.mode = mode;
    $('token-dialog-title', this.root).textContent = mode === 'expired' ? 'Your session expired' : 'Your session is ending';
    $('token-dialog-text', this.root).textContent =
      mode === 'expired'
        ? 'Paste a new token to reconnect. Your open trip and your unsent changes are kept.'
        : 'Paste a new token for the same person to stay connected without interruption.';
    $('token-dialog-error', this.root).hidden = true;
    $('token-dialog-submit', this.root).disabled = false;
    $('token-dialog-input', this.root).value = '';
    $('token-dialog-input', this.root).focus();
  }

  close() {
    $('token-dialog-submit', this.root).disabled = false;
    this.root.hidden = true;
    if (this.back && this.back.isConnected) this.back.focus();
    this.back = null;
  }

  error(message) {
    $('token-dialog-submit', this.root).disabled = false;
    const el = $('token-dialog-error', this.root);
    el.textContent = message;
    el.hidden = false;
  }

  submit() {
    const token = $('token-dialog-input', this.root).value.trim();
    let info;
    try {
      info = describeToken(token);
    } catch (err) {
      return this.error(err.message);
    }
    if (info.expired) return this.error('That token has already expired.');
    if (this.root.dataset.mode === 'refresh' && this.canRefresh()) {
      if (info.sub !== this.selfId()) return this.error('That token is for a different person.');
      $('token-dialog-submit', this.root).disabled = true;
      return this.refresh(token); // answered by token_refreshed (close) or an error (error)
    }
    this.close();
    this.signIn(token);
  }
}
