// Buttons that work for a while, and the one confirmation dialog pattern of the pages:
// a <dialog> holding an <h3>, an .error-text, a .keep and a .confirm button.

// Disable the button and mark it busy (aria-busy) while `work` runs, whatever its outcome.
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

// Ask before something that cannot be undone. `act` does it (and throws to refuse); on success
// the dialog closes and `done` runs; a refusal is shown in the dialog as `failure(error)`, which
// stays open. Closing returns focus to `opener` while `stillThere()` says it is on the page.
export function confirmAction(dialog, { title, opener, stillThere, act, done, failure }) {
  dialog.querySelector("h3").textContent = title;
  const problem = dialog.querySelector(".error-text");
  problem.hidden = true;
  const confirm = dialog.querySelector(".confirm");
  const keep = dialog.querySelector(".keep");
  const close = () => {
    confirm.onclick = null;
    dialog.close();
    if (stillThere()) opener.focus();
  };
  keep.onclick = close;
  confirm.onclick = () =>
    busy(confirm, async () => {
      try {
        await act();
      } catch (error) {
        problem.textContent = failure(error);
        problem.hidden = false;
        return;
      }
      close();
      done();
    });
  dialog.showModal();
  keep.focus();
}
