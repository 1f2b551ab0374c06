// A confirmation as a modal <dialog> (the browser moves focus in and traps
// it), focus given back to where it was; polite announcements.

/** Ask; resolves true when the person confirms. */
export function confirmDialog(dialog, { title, text, yes }) {
  dialog.querySelector('[data-testid="confirm-title"]').textContent = title;
  dialog.querySelector('[data-testid="confirm-text"]').textContent = text;
  dialog.querySelector('[data-testid="confirm-yes"]').textContent = yes;
  const back = document.activeElement;
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        resolve(dialog.returnValue === 'yes');
        if (back && back.isConnected) back.focus();
      },
      { once: true },
    );
    dialog.returnValue = '';
    dialog.showModal();
  });
}

/** Say something in a polite live region (emptied first, so a repeat is read again). */
export function announce(region, text) {
  region.textContent = '';
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}
