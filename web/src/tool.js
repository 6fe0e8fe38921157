// The page an LTI launch lands on: check the launch, keep the session fresh, then show the
// course's library, the deep-linking picker, or what a deep-linked resource link opens.
import { Api } from "./lib/api.js";
import { usableLocale } from "./lib/format.js";
import { translator } from "./lib/i18n.js";
import { verifyLaunch } from "./lib/launch-check.js";
import { readJson } from "./lib/page-data.js";
import { Session } from "./lib/session.js";
import { mountApiTokens } from "./api-tokens.js";
import { mountLibrary } from "./library.js";
import { mountPicker } from "./picker.js";
import { mountResource } from "./resource.js";
import { mountTabs } from "./lib/tabs.js";
import { mountLive } from "./live.js";

const main = document.getElementById("tool");
const data = readJson("lti-session");
const check = readJson("lti-check");
const t = translator(readJson("i18n"));

async function start() {
  if (!(await verifyLaunch(main, check))) return;
  const session = new Session(data);
  session.addEventListener("ended", () => {
    const notice = document.getElementById("session-notice");
    notice.hidden = false;
    document.getElementById("session-relaunch").addEventListener("click", () => window.open(check.relaunch, "_blank", "noopener"));
  });
  session.start();
  main.dataset.sessionExpires = new Date(session.expiresAt).toISOString();
  session.addEventListener("refreshed", () => {
    main.dataset.sessionExpires = new Date(session.expiresAt).toISOString();
  });
  const picker = document.getElementById("picker");
  if (picker) mountPicker(picker, { api: new Api(session), session, t, locale: usableLocale(data.locale) });
  const resource = document.getElementById("resource");
  if (resource) mountResource(resource, { api: new Api(session), t, locale: usableLocale(data.locale) });
  const library = document.getElementById("library");
  if (library) {
    const api = new Api(session);
    mountLibrary(library, {
      api,
      t,
      locale: usableLocale(data.locale),
      userId: data.user_id,
      courseId: data.course_id,
    });
    // Live sessions: a tab beside the library, loaded when first shown.
    const live = document.getElementById("live-sessions");
    if (live) {
      const context = { api, t, locale: usableLocale(data.locale), courseId: data.course_id, configId: data.config_id };
      mountLive(live, context);
      mountTabs(document.querySelector('[role="tablist"]'));
    }
    const upload = document.getElementById("upload");
    if (upload) {
      // Only course staff get the upload area: Uppy is a chunk of its own, fetched for them
      // alone and without holding up the rest of the page.
      import("./upload.js").then(
        ({ mountUpload }) =>
          mountUpload(upload, {
            api,
            t,
            userId: data.user_id,
            courseId: data.course_id,
            onVideo: (video) => library.dispatchEvent(new CustomEvent("library:video", { detail: video })),
          }),
        () => {
          upload.querySelector("#upload-zone p").textContent = t("error.network");
        },
      );
    }
    const tokens = document.getElementById("api-tokens");
    if (tokens) mountApiTokens(tokens, { api, t, locale: usableLocale(data.locale) });
  }
}

start();
