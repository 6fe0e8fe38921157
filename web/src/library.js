// The course's library: every video for course staff (with rename, publish and delete),
// published ready videos for learners. Everything goes through the public REST API; the
// services refuse a learner's management calls whatever a page shows.
import { busy, confirmAction } from "./lib/confirm.js";
import { formatDate, formatDuration } from "./lib/format.js";

const PLAYABLE = new Set(["VIDEO_STATUS_TRANSCODING", "VIDEO_STATUS_READY"]);
const IN_FLIGHT = new Set(["VIDEO_STATUS_UPLOADED", "VIDEO_STATUS_QUEUED", "VIDEO_STATUS_TRANSCODING"]);
const PAGE_SIZE = 50;
const MAX_STREAMS = 3; // an HTTP/1.1 browser opens 6 connections per host: leave room for API calls

export function mountLibrary(root, { api, t, locale, userId, courseId }) {
  const staff = root.dataset.staff === "yes";
  const list = root.querySelector("#videos");
  const loading = root.querySelector("#library-loading");
  const failure = root.querySelector("#library-error");
  const empty = root.querySelector("#library-empty");
  const more = root.querySelector("#load-more");
  const status = root.querySelector("#library-status");
  const template = document.getElementById("video-template");
  const dialog = document.getElementById("confirm-delete");
  const cards = new Map();
  const names = new Map();
  const watching = new Set();
  const waiting = [];
  let nextPageToken = "";
  // hls.js is a chunk of its own, fetched when a video is first opened (then kept).
  let player = null;
  const openPlayer = (video, opener) => {
    player ??= import("./player.js").then(({ Player }) => new Player(document.getElementById("player"), { api, t, locale }));
    return player.then(
      (ready) => ready.open(video, opener),
      () => {
        player = null; // the next click tries again
        say(t("error.network"));
      },
    );
  };

  const say = (text) => {
    status.textContent = text;
  };
  const words = (error) => (error.network ? t("error.network") : error.message);
  const visible = (video) => staff || (video.published && video.status === "VIDEO_STATUS_READY");

  async function load(pageToken = "") {
    failure.hidden = true;
    loading.hidden = false;
    more.hidden = true;
    try {
      const page = await api.call("GET", "/api/v1/media/videos", {
        query: { course_id: courseId, page_size: PAGE_SIZE, page_token: pageToken },
      });
      for (const video of page.videos || []) if (visible(video)) upsert(video);
      nextPageToken = page.next_page_token || "";
    } catch (error) {
      failure.querySelector(".message").textContent = t("error.load", { message: words(error) });
      failure.hidden = false;
    } finally {
      loading.hidden = true;
      loading.removeAttribute("aria-busy");
      more.hidden = !nextPageToken;
      showEmptyState();
    }
  }

  function showEmptyState() {
    const none = cards.size === 0 && failure.hidden;
    empty.hidden = !none;
    list.hidden = cards.size === 0;
  }

  function upsert(video) {
    let card = cards.get(video.video_id);
    if (!card) {
      const node = template.content.firstElementChild.cloneNode(true);
      card = { node, video };
      cards.set(video.video_id, card);
      wire(card);
      list.append(node);
    }
    card.video = video;
    paint(card);
    if (staff && IN_FLIGHT.has(video.status) && video.upload_id) follow(card);
    return card;
  }

  function paint({ node, video }) {
    const id = video.video_id;
    node.id = `video-${id}`;
    node.dataset.videoId = id;
    node.dataset.status = video.status;
    const title = node.querySelector(".video-title");
    title.id = `title-${id}`;
    title.textContent = video.title || t("video.untitled");
    const badge = node.querySelector(".badge.status");
    badge.textContent = t(`status.${video.status}`);
    badge.className = `badge status ${video.status.replace("VIDEO_STATUS_", "").toLowerCase()}`;
    const duration = video.probe && video.probe.duration_seconds;
    node.querySelector(".duration").textContent = duration ? t("video.duration", { duration: formatDuration(duration, locale) }) : "";
    const who = video.owner_id === userId ? t("video.you") : names.get(video.owner_id) || video.owner_id;
    node.querySelector(".uploader").textContent = staff ? t("video.uploaded_by", { who }) : "";
    const created = node.querySelector(".created");
    created.dateTime = video.created_at;
    created.textContent = t("video.added", { date: formatDate(video.created_at, locale) });
    showPoster(node.querySelector(".poster"), video.poster_url);
    node.querySelector(".progress").hidden = !IN_FLIGHT.has(video.status);
    const play = node.querySelector(".play");
    play.hidden = !PLAYABLE.has(video.status);
    play.setAttribute("aria-describedby", title.id);
    if (!staff) return;
    const visibility = node.querySelector(".badge.visibility");
    visibility.textContent = t(video.published ? "video.published" : "video.unpublished");
    visibility.className = `badge visibility ${video.published ? "published" : "unpublished"}`;
    const publish = node.querySelector(".publish");
    publish.textContent = t(video.published ? "action.unpublish" : "action.publish");
    for (const button of node.querySelectorAll(".actions button")) button.setAttribute("aria-describedby", title.id);
  }

  // The poster once the video is ready (a signed URL from the API; each reply signs it anew, so a
  // shown poster is kept rather than fetched again). One that fails to load leaves the placeholder.
  function showPoster(frame, url) {
    if (!url || frame.querySelector("img")) return;
    const image = document.createElement("img");
    image.alt = "";
    image.loading = "lazy";
    image.addEventListener("error", () => {
      image.remove();
      frame.querySelector("span").hidden = false;
    });
    image.addEventListener("load", () => {
      frame.querySelector("span").hidden = true;
    });
    image.src = url;
    frame.append(image);
  }

  function showError(card, text) {
    const element = card.node.querySelector(".error-text");
    element.textContent = text;
    element.hidden = !text;
  }

  async function update(card, fields, mask) {
    const reply = await api.call("PATCH", `/api/v1/media/videos/${encodeURIComponent(card.video.video_id)}`, {
      query: { update_mask: mask },
      body: fields,
    });
    card.video = reply.video;
    paint(card);
  }

  function wire(card) {
    const play = card.node.querySelector(".play");
    play.addEventListener("click", () => openPlayer(card.video, play));
    if (!staff) return;
    const { node } = card;
    const actions = node.querySelector(".actions");
    const form = node.querySelector(".rename-form");
    const input = form.querySelector("input");
    const closeForm = () => {
      form.hidden = true;
      actions.hidden = false;
      input.removeAttribute("aria-invalid");
    };
    node.querySelector(".rename").addEventListener("click", () => {
      showError(card, "");
      input.value = card.video.title;
      actions.hidden = true;
      form.hidden = false;
      input.focus();
      input.select();
    });
    form.querySelector(".cancel").addEventListener("click", () => {
      closeForm();
      node.querySelector(".rename").focus();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(form.querySelector("button[type=submit]"), async () => {
        try {
          await update(card, { title: input.value }, "title");
          closeForm();
          showError(card, "");
          say(t("done.renamed", { title: card.video.title }));
          node.querySelector(".rename").focus();
        } catch (error) {
          input.setAttribute("aria-invalid", "true");
          showError(card, t("error.rename", { message: words(error) }));
        }
      });
    });
    const publish = node.querySelector(".publish");
    publish.addEventListener("click", () =>
      busy(publish, async () => {
        const publishing = !card.video.published;
        try {
          await update(card, { published: publishing }, "published");
          showError(card, "");
          say(t(publishing ? "done.published" : "done.unpublished", { title: card.video.title }));
        } catch (error) {
          showError(card, t(publishing ? "error.publish" : "error.unpublish", { message: words(error) }));
        }
      }),
    );
    node.querySelector(".delete").addEventListener("click", () => confirmDelete(card));
  }

  function confirmDelete(card) {
    const id = card.video.video_id;
    confirmAction(dialog, {
      title: t("confirm.delete_title", { title: card.video.title }),
      opener: card.node.querySelector(".delete"),
      stillThere: () => cards.has(id),
      act: () => api.call("DELETE", `/api/v1/media/videos/${encodeURIComponent(id)}`),
      done: () => {
        card.node.remove();
        cards.delete(id);
        say(t("done.deleted", { title: card.video.title }));
        showEmptyState();
        root.querySelector("h2").focus();
      },
      failure: (error) => t("error.delete", { message: words(error) }),
    });
  }

  // ---- live progress of videos still being prepared ------------------------------------------

  function follow(card) {
    const id = card.video.video_id;
    if (watching.has(id) || waiting.includes(id)) return;
    if (watching.size >= MAX_STREAMS) waiting.push(id);
    else watch(card);
  }

  async function watch(card) {
    const id = card.video.video_id;
    watching.add(id);
    const bar = card.node.querySelector("progress");
    const text = card.node.querySelector(".progress-text");
    try {
      await api.events(`/api/v1/media/uploads/${encodeURIComponent(card.video.upload_id)}/events`, (name, data) => {
        if (name === "progress" && data.job) {
          const percent = data.job.progress_percent || 0;
          bar.value = percent;
          text.textContent =
            data.job.status === "TRANSCODE_JOB_STATUS_QUEUED"
              ? t("video.waiting")
              : data.job.eta_seconds > 0
                ? t("video.progress_eta", { percent, time: formatDuration(data.job.eta_seconds, locale) })
                : t("video.progress", { percent });
        } else if (name === "error") {
          showError(card, t("error.progress", { message: (data.error && data.error.message) || "" }));
        }
      });
      const reply = await api.call("GET", `/api/v1/media/videos/${encodeURIComponent(id)}`);
      if (cards.has(id)) {
        card.video = reply.video;
        paint(card);
        if (reply.video.status === "VIDEO_STATUS_READY") say(t("done.ready", { title: reply.video.title }));
      }
    } catch (error) {
      if (cards.has(id)) showError(card, t("error.progress", { message: words(error) }));
    } finally {
      watching.delete(id);
      const next = waiting.shift();
      if (next && cards.has(next)) watch(cards.get(next));
    }
  }

  // ---- who uploaded: names from the course roster, when the platform shares it ----------------

  async function loadNames() {
    try {
      const roster = await api.call("GET", `/api/v1/lti/courses/${encodeURIComponent(courseId)}/members`, {
        query: { page_size: 1000 },
      });
      for (const member of roster.members || []) {
        const name = member.name || [member.given_name, member.family_name].filter(Boolean).join(" ");
        if (name) names.set(member.user_id, name);
      }
      for (const card of cards.values()) paint(card);
    } catch {
      // No roster (the platform offers none, or is down): uploaders stay named by their LMS id.
    }
  }

  // A video uploaded from this page (upload.js) joins the list, which follows its transcoding.
  root.addEventListener("library:video", (event) => {
    upsert(event.detail);
    showEmptyState();
  });

  root.querySelector("#library-retry").addEventListener("click", () => load());
  more.addEventListener("click", () => busy(more, () => load(nextPageToken)));
  load().then(() => {
    if (staff) loadNames();
  });
}
