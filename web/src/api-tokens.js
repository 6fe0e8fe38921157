// Personal API tokens (course staff and administrators): create one with a name and an expiry,
// see its secret once and copy it, list one's own tokens and revoke them. The same REST API
// mediactl and any client use: POST/GET /api/v1/api-tokens, DELETE /api/v1/api-tokens/{id}.
import { formatDate } from "./lib/format.js";

const PATH = "/api/v1/api-tokens";

export function mountApiTokens(root, { api, t, locale }) {
  const form = root.querySelector("#token-form");
  const nameInput = form.elements.name;
  const expirySelect = form.elements.expires_in_days;
  const nameError = root.querySelector("#token-name-error");
  const expiryError = root.querySelector("#token-expiry-error");
  const formError = root.querySelector("#token-form-error");
  const created = root.querySelector("#token-created");
  const secretField = root.querySelector("#token-secret");
  const status = root.querySelector("#tokens-status");
  const list = root.querySelector("#tokens-list");
  const empty = root.querySelector("#tokens-empty");
  const listError = root.querySelector("#tokens-error");
  const template = document.getElementById("token-template");

  const messageOf = (error) => (error && error.network ? t("error.network") : (error && error.message) || String(error));
  const show = (element, text) => {
    element.textContent = text || "";
    element.hidden = !text;
  };

  function row(token) {
    const item = template.content.firstElementChild.cloneNode(true);
    item.dataset.tokenId = token.token_id;
    item.querySelector(".token-name").textContent = token.name;
    item.querySelector(".token-created").textContent = t("tokens.created", { date: formatDate(token.created_at, locale) });
    item.querySelector(".token-used").textContent = token.last_used_at
      ? t("tokens.used", { date: formatDate(token.last_used_at, locale) })
      : t("tokens.never_used");
    const expired = new Date(token.expires_at) <= new Date();
    item.querySelector(".token-expires").textContent = t(expired ? "tokens.expired" : "tokens.expires", {
      date: formatDate(token.expires_at, locale),
    });
    const revoke = item.querySelector(".revoke");
    revoke.setAttribute("aria-label", t("tokens.revoke_named", { name: token.name }));
    revoke.addEventListener("click", () => revokeToken(token, item, revoke));
    return item;
  }

  function render(tokens) {
    list.replaceChildren(...tokens.map(row));
    empty.hidden = tokens.length > 0;
  }

  async function load() {
    show(listError, "");
    try {
      const tokens = [];
      let pageToken = "";
      do {
        const page = await api.call("GET", PATH, { query: { page_size: 100, page_token: pageToken } });
        tokens.push(...(page.tokens || []));
        pageToken = page.next_page_token || "";
      } while (pageToken);
      render(tokens);
    } catch (error) {
      show(listError, t("tokens.error_load", { message: messageOf(error) }));
    }
  }

  async function revokeToken(token, item, button) {
    const error = item.querySelector(".error-text");
    show(error, "");
    button.disabled = true;
    try {
      await api.call("DELETE", `${PATH}/${encodeURIComponent(token.token_id)}`);
      item.remove();
      empty.hidden = list.children.length > 0;
      status.textContent = t("tokens.revoked", { name: token.name });
      root.querySelector("#api-tokens-heading").focus();
    } catch (failure) {
      button.disabled = false;
      show(error, t("tokens.error_revoke", { message: messageOf(failure) }));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const element of [nameError, expiryError, formError]) show(element, "");
    const name = nameInput.value.trim();
    if (!name) {
      show(nameError, t("tokens.name_required"));
      nameInput.focus();
      return;
    }
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const answer = await api.call("POST", PATH, {
        body: { name, expires_in_days: Number(expirySelect.value) },
      });
      secretField.value = answer.secret;
      created.hidden = false;
      secretField.focus();
      secretField.select();
      status.textContent = t("tokens.created_status", { name: answer.token.name });
      form.reset();
      await load();
    } catch (failure) {
      const fields = new Set((failure.violations || []).map((v) => v.field));
      const message = t("tokens.error_create", { message: messageOf(failure) });
      if (fields.has("name")) show(nameError, message);
      else if (fields.has("expires_in_days")) show(expiryError, message);
      else show(formError, message);
    } finally {
      submit.disabled = false;
    }
  });

  root.querySelector("#token-copy").addEventListener("click", async () => {
    secretField.select();
    try {
      await navigator.clipboard.writeText(secretField.value);
      status.textContent = t("tokens.copied");
    } catch {
      status.textContent = t("tokens.copy_manually");
    }
  });

  // The secret leaves the page once acknowledged: it is shown once and kept nowhere.
  root.querySelector("#token-done").addEventListener("click", () => {
    secretField.value = "";
    created.hidden = true;
    nameInput.focus();
  });

  load();
}

