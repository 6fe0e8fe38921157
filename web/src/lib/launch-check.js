// Proves the browser that finishes a launch is the one that started it, when the state
// cookie could not (cookies blocked in the LMS's iframe): the login page stored the state in
// the platform's frame (LTI client-side postMessage storage), and this reads it back before
// the page uses its session. Without an answer, the page offers a new window instead.

function platformFrame(target) {
  return target === "_parent" ? window.parent : window.parent.frames[target] || window.parent;
}

export function verifyLaunch(main, check) {
  if (main.dataset.verified !== "pending") return Promise.resolve(true);
  return new Promise((resolve) => {
    const id = `get-${Math.random().toString(36).slice(2)}`;
    const fail = () => {
      clearTimeout(timer);
      main.hidden = true;
      main.dataset.verified = "no";
      document.getElementById("fallback").hidden = false;
      document.getElementById("relaunch").addEventListener("click", () => window.open(check.relaunch, "_blank", "noopener"));
      resolve(false);
    };
    const timer = setTimeout(fail, check.timeout_ms);
    window.addEventListener("message", (event) => {
      if (event.origin !== check.origin || !event.data || event.data.message_id !== id) return;
      if (event.data.subject === "lti.get_data.response" && event.data.value === check.state) {
        clearTimeout(timer);
        main.dataset.verified = "yes";
        resolve(true);
      } else {
        fail();
      }
    });
    try {
      platformFrame(check.target).postMessage({ subject: "lti.get_data", message_id: id, key: check.key }, check.origin);
    } catch {
      fail();
    }
  });
}
