// The controls that collapse on narrow screens (index.html, styles.css): the session drawer, the comparison sheet,
// the transport menu and the session-actions menu. Each has a toggle button (aria-controls, aria-expanded) that CSS
// shows only where the control is collapsed. One is open at a time; Escape, the backdrop, a click outside a menu, or
// a change of layout closes it.
import { $ } from './dom.js';

export interface Sheets {
  close(): void;
}

export function setupSheets(): Sheets {
  const backdrop = $('#backdrop');
  let current: { toggle: HTMLButtonElement; target: HTMLElement } | null = null;

  const close = () => {
    if (!current) return;
    current.target.classList.remove('open');
    current.toggle.setAttribute('aria-expanded', 'false');
    backdrop.hidden = true;
    current = null;
  };

  const open = (toggle: HTMLButtonElement, target: HTMLElement) => {
    close();
    target.classList.add('open');
    toggle.setAttribute('aria-expanded', 'true');
    backdrop.hidden = !target.classList.contains('sheet');
    current = { toggle, target };
  };

  for (const toggle of document.querySelectorAll<HTMLButtonElement>('button.toggle[aria-controls]')) {
    const target = $(`#${toggle.getAttribute('aria-controls')}`);
    toggle.addEventListener('click', (e) => {
      e.stopPropagation();
      if (current?.target === target) close();
      else open(toggle, target);
    });
  }

  for (const button of document.querySelectorAll<HTMLButtonElement>('.sheet-close')) button.addEventListener('click', close);
  backdrop.addEventListener('click', close);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') close();
  });
  document.addEventListener('click', (e) => {
    // A menu closes on a click elsewhere; a sheet has its backdrop for that.
    if (current && !current.target.classList.contains('sheet') && !current.target.contains(e.target as Node)) close();
  });
  for (const query of ['(max-width: 719px)', '(max-width: 1099px)']) matchMedia(query).addEventListener('change', close);

  return { close };
}
