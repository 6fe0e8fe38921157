// What a deep-linked resource link opens (web/templates/resource_video.html, resource_live.html):
// one video in the library's player, open on the page; or one live session with the way in,
// the host's start link for course staff and, for a learner, their own join link
// (POST /api/v1/live-sessions/{id}/join-links, the same URL on every call).
import { formatDate } from "./lib/format.js";

const STATUS_KEYS = {
  LIVE_SESSION_STATUS_SCHEDULED: "resource.status_scheduled",
  LIVE_SESSION_STATUS_LIVE: "resource.status_live",
  LIVE_SESSION_STATUS_ENDED: "resource.status_ended",
  LIVE_SESSION_STATUS_CANCELLED: "resource.status_cancelled",
};
const BADGES = {
  LIVE_SESSION_STATUS_SCHEDULED: "queued",
  LIVE_SESSION_STATUS_LIVE: "ready",
  LIVE_SESSION_STATUS_CANCELLED: "cancelled",
};

export function mountResource(root, { api, t, locale }) {
  const loading = root.querySelector("#resource-loading");
  const failure = root.querySelector("#resource-error");
  const words = (error) => (error.network ? t("error.network") : error.message);
  const fail = (key, error) => {
    failure.querySelector(".message").textContent = t(key, { message: words(error) });
    failure.hidden = false;
    root.dataset.state = "failed";
  };
  const done = () => {
    loading.hidden = true;
    loading.removeAttribute("aria-busy");
  };
  if (root.dataset.kind === "video") showVideo(root, { api, t, locale, fail, done });
  else showLive(root, { api, t, locale, fail, done, words });
}

async function showVideo(root, { api, t, locale, fail, done }) {
  const id = root.dataset.videoId;
  try {
    // Imported when needed, so a page without a video does not load hls.js.
    const [{ Player }, reply] = await Promise.all([
      import("./player.js"),
      api.call("GET", `/api/v1/media/videos/${encodeURIComponent(id)}`),
    ]);
    const player = new Player(root.querySelector("#player"), { api, t, locale });
    done();
    root.dataset.state = "ready";
    await player.open(reply.video, null);
  } catch (error) {
    done();
    root.querySelector("#player").hidden = true;
    fail("resource.video_error", error);
  }
}

async function showLive(root, { api, t, locale, fail, done, words }) {
  const id = encodeURIComponent(root.dataset.sessionId);
  const staff = root.dataset.staff === "yes";
  const card = root.querySelector("#live-session");
  let session;
  try {
    session = (await api.call("GET", `/api/v1/live-sessions/${id}`)).session;
  } catch (error) {
    done();
    fail("resource.live_error", error);
    return;
  }
  done();
  card.querySelector("#live-title").textContent = session.session_name || t("picker.live_untitled");
  const badge = card.querySelector(".live-status");
  badge.textContent = t(STATUS_KEYS[session.status] || "resource.status_scheduled");
  badge.className = `badge live-status ${BADGES[session.status] || ""}`;
  const start = card.querySelector(".live-start");
  if (session.scheduled_start) {
    start.dateTime = session.scheduled_start;
    start.textContent = t("resource.starts", { time: formatDate(session.scheduled_start, locale) });
  }
  const end = card.querySelector(".live-end");
  if (session.scheduled_end) {
    end.dateTime = session.scheduled_end;
    end.textContent = t("resource.ends", { time: formatDate(session.scheduled_end, locale) });
  }
  card.hidden = false;
  root.dataset.status = session.status;

  const closed = card.querySelector(".live-closed");
  if (session.status === "LIVE_SESSION_STATUS_ENDED" || session.status === "LIVE_SESSION_STATUS_CANCELLED") {
    closed.textContent = t(session.status === "LIVE_SESSION_STATUS_ENDED" ? "resource.ended_text" : "resource.cancelled_text");
    closed.hidden = false;
    root.dataset.state = "ready";
    return;
  }
  const way = card.querySelector(".live-way");
  const link = card.querySelector(".live-link");
  const hint = card.querySelector(".live-hint");
  const problem = card.querySelector(".live-link-error");
  const retry = card.querySelector(".live-retry");
  const offer = (url) => {
    link.href = url;
    way.hidden = false;
    hint.hidden = false;
    root.dataset.state = "ready";
  };
  if (staff) {
    if (session.start_url) offer(session.start_url);
    else {
      problem.textContent = t("resource.no_start_link");
      problem.hidden = false;
      root.dataset.state = "ready";
    }
    return;
  }
  const join = async () => {
    problem.hidden = true;
    retry.hidden = true;
    try {
      const reply = await api.call("POST", `/api/v1/live-sessions/${id}/join-links`, { body: {} });
      offer(reply.join_url);
    } catch (error) {
      problem.textContent = t("resource.join_error", { message: words(error) });
      problem.hidden = false;
      retry.hidden = false;
      root.dataset.state = "failed";
    }
  };
  retry.addEventListener("click", join);
  await join();
}
