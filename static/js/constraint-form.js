// The typed constraint form: a kind (budget, daily limit, dietary, pace,
// other) shows only its own fields; what it holds becomes a constraint via
// money.constraintFromForm.

import { h, $, replaceChildren } from './ui.js';
import { CURRENCIES, DIETARY, constraintFromForm } from './money.js';

export class ConstraintForm {
  constructor(root = document) {
    this.root = root;
    this.kind = $('constraint-kind', root);
    replaceChildren($('constraint-currency', root), CURRENCIES.map((c) => h('option', { value: c }, c)));
    replaceChildren(
      $('constraint-dietary', root),
      h('legend', null, 'Dietary needs'),
      DIETARY.map((d) => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: d }), d)),
    );
    this.kind.addEventListener('change', () => this.showKindFields());
    this.showKindFields();
  }

  showKindFields() {
    for (const part of this.root.querySelectorAll('.kind-fields')) part.hidden = !part.dataset.kind.split(' ').includes(this.kind.value);
  }

  /** {ok, constraint} or {ok: false, error}. */
  read() {
    const value = (id) => $(id, this.root).value;
    return constraintFromForm({
      kind: this.kind.value,
      amount: value('constraint-amount'),
      currency: value('constraint-currency'),
      dietary: [...this.root.querySelectorAll('[data-testid="constraint-dietary"] input:checked')].map((x) => x.value),
      pace: value('constraint-pace'),
      text: value('constraint-text'),
      description: value('add-constraint-description'),
    });
  }

  reset() {
    for (const id of ['constraint-amount', 'constraint-text', 'add-constraint-description']) $(id, this.root).value = '';
    for (const box of this.root.querySelectorAll('[data-testid="constraint-dietary"] input')) box.checked = false;
  }
}
