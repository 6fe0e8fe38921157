// The OIDC login page when the platform offers postMessage storage: store the state in the
// platform's frame (lti.put_data, to the platform's origin only), then go on to the
// platform's authorization URL; go on anyway if the platform does not answer in time.
import { readJson } from "./lib/page-data.js";

const cfg = readJson("lti-storage");
const frame = cfg.target === "_parent" ? window.parent : window.parent.frames[cfg.target] || window.parent;
const id = `put-${Math.random().toString(36).slice(2)}`;
let done = false;
const go = () => {
  if (!done) {
    done = true;
    window.location.replace(cfg.next);
  }
};
window.addEventListener("message", (event) => {
  if (event.origin === cfg.origin && event.data && event.data.message_id === id && event.data.subject === "lti.put_data.response") go();
});
try {
  frame.postMessage({ subject: "lti.put_data", message_id: id, key: cfg.key, value: cfg.value }, cfg.origin);
} catch {
  go();
}
setTimeout(go, cfg.timeout_ms);
