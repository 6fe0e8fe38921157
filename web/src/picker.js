// The deep-linking picker (web/templates/lti/picker.html). Without script the form posts to the
// edge, which answers the auto-posting page. With script: durations and dates in the viewer's
// locale and time zone, a search over titles, a count of what is chosen, and the response asked
// for through the JSON API, so that a refusal is shown in words beside the button; the signed
// JWT is then form-posted to the platform's return URL, as LTI Deep Linking 2.0 asks (§ 4.2).
import { formatDate, formatDuration } from "./lib/format.js";

const RESOURCE_LINK = "DEEP_LINKING_ITEM_TYPE_LTI_RESOURCE_LINK";

export function mountPicker(form, { api, session, t, locale }) {
  const picks = [...form.querySelectorAll("input[name=pick]")];
  const cards = [...form.querySelectorAll(".pick-card")];
  const button = form.querySelector("#picker-add");
  const error = form.querySelector("#picker-error");
  const count = form.querySelector("#picker-count");
  const multiple = form.dataset.multiple === "yes";

  // The session token the no-script path posts stays the current one.
  const tokenField = form.querySelector("input[name=session_token]");
  session.addEventListener("refreshed", () => {
    tokenField.value = session.token;
  });

  for (const element of form.querySelectorAll(".duration[data-seconds]")) {
    const seconds = Number(element.dataset.seconds);
    element.textContent = seconds > 0 ? t("video.duration", { duration: formatDuration(seconds, locale) }) : "";
  }
  for (const element of form.querySelectorAll("time.created[datetime]")) {
    if (element.dateTime) element.textContent = t("picker.added", { date: formatDate(element.dateTime, locale) });
  }
  for (const element of form.querySelectorAll("time.starts[datetime]")) {
    if (element.dateTime) element.textContent = t("picker.starts", { time: formatDate(element.dateTime, locale) });
  }
  for (const image of form.querySelectorAll(".poster img")) {
    // A poster that cannot load (none was made, or its signed URL expired) leaves the placeholder.
    image.addEventListener("error", () => image.replaceWith(document.createTextNode(t("video.no_poster"))));
  }

  const showError = (text) => {
    error.textContent = text;
    error.hidden = !text;
  };

  function chosen() {
    return picks.filter((input) => input.checked);
  }

  function paint() {
    const picked = chosen();
    for (const card of cards) card.classList.toggle("picked", card.querySelector("input[name=pick]").checked);
    count.textContent = multiple && picked.length ? t("picker.count", { count: picked.length }) : "";
    if (picked.length) showError("");
  }
  form.addEventListener("change", (event) => {
    if (event.target.name === "pick") paint();
  });

  // Search: hide the cards whose title does not contain what is typed.
  if (cards.length > 3) {
    const box = form.querySelector(".picker-search");
    const search = box.querySelector("input");
    const found = form.querySelector("#picker-search-count");
    const none = form.querySelector("#picker-none-found");
    box.hidden = false;
    search.addEventListener("input", () => {
      const query = search.value.trim().toLowerCase();
      let shown = 0;
      for (const card of cards) {
        const match = !query || card.dataset.search.includes(query);
        card.hidden = !match;
        if (match) shown += 1;
      }
      found.textContent = query ? t("picker.search_count", { count: shown, total: cards.length }) : "";
      none.hidden = shown > 0;
    });
  }

  function items() {
    return chosen().map((input) => {
      const [kind, id] = input.value.split(/:(.*)/s);
      const own = form.elements.namedItem(`title.${input.value}`);
      const item = { type: RESOURCE_LINK, title: (own && own.value.trim()) || input.dataset.title || "" };
      if (kind === "video") item.video_id = id;
      else item.live_session_id = id;
      return item;
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const picked = items();
    if (!picked.length) {
      showError(t("picker.nothing_picked"));
      if (picks.length) picks[0].focus();
      return;
    }
    showError("");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.textContent = t("picker.adding");
    try {
      const reply = await api.call("POST", form.getAttribute("action"), {
        body: { launch_id: form.elements.namedItem("launch_id").value, items: picked },
      });
      postToPlatform(reply.return_url, reply.jwt);
    } catch (failure) {
      showError(t("picker.error", { message: failure.network ? t("error.network") : failure.message }));
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.textContent = t("picker.add");
      button.focus();
    }
  });

  paint();
}

// The signed response goes to the platform as the form field JWT, in this same window.
function postToPlatform(returnUrl, jwt) {
  const form = document.createElement("form");
  form.method = "post";
  form.action = returnUrl;
  form.hidden = true;
  const field = document.createElement("input");
  field.type = "hidden";
  field.name = "JWT";
  field.value = jwt;
  form.append(field);
  document.body.append(form);
  form.submit();
}
