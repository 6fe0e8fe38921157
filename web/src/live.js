// The course's live sessions (Zoom meetings run by attendance_svc), through the public REST API.
// Course staff schedule sessions, open the host's start link, follow attendance live from the
// server-sent events while a meeting runs, then read the report and download it as CSV or
// JSON; they cancel a session after a confirmation. Learners see upcoming and running
// sessions, each with their own personal join link (POST .../join-links registers them with
// Zoom once, so attendance matches them exactly). The services refuse a learner's staff calls
// whatever this page shows. Nothing loads until the panel is first shown.
import { formatDate, formatDuration } from "./lib/format.js";
import { busy, confirmAction } from "./lib/confirm.js";
import { downloadFile } from "./lib/download.js";

const SCHEDULED = "LIVE_SESSION_STATUS_SCHEDULED";
const LIVE = "LIVE_SESSION_STATUS_LIVE";
const ENDED = "LIVE_SESSION_STATUS_ENDED";
const CANCELLED = "LIVE_SESSION_STATUS_CANCELLED";
const BADGE = { [SCHEDULED]: "upcoming", [LIVE]: "running", [ENDED]: "ended", [CANCELLED]: "cancelled" };
const ORDER = { [LIVE]: 0, [SCHEDULED]: 1, [ENDED]: 2 };
const FOLLOW_AHEAD_MS = 30 * 60_000; // a meeting that may start within half an hour is followed at once
const MAX_STREAMS = 2; // the library may hold three event streams: leave connections for API calls
const RECONNECT_MS = 2_000;
const PAGE_SIZE = 100;
const MAX_PAGES = 10;
const LOG_LENGTH = 20;
const FIELD_OF_VIOLATION = {
  session_name: "live-topic",
  scheduled_start: "live-start",
  scheduled_end: "live-duration",
  zoom_host_id: "live-host",
};

export function mountLive(root, { api, t, locale, courseId, configId }) {
  const staff = root.dataset.staff === "yes";
  const list = root.querySelector("#live-list");
  const loading = root.querySelector("#live-loading");
  const failure = root.querySelector("#live-error");
  const empty = root.querySelector("#live-empty");
  const status = root.querySelector("#live-status");
  const template = document.getElementById("live-template");
  const dialog = document.getElementById("confirm-cancel-live");
  const form = root.querySelector("#live-schedule");
  const cards = new Map();
  const streaming = new Set();
  const waiting = [];
  let loaded = false;

  const say = (text) => {
    status.textContent = text;
  };
  const words = (error) => (error.network ? t("error.network") : error.message);
  const shown = (session) => session.status !== CANCELLED && (staff || session.status !== ENDED);
  const path = (session, tail = "") => `/api/v1/live-sessions/${encodeURIComponent(session.session_id)}${tail}`;
  const time = (iso) =>
    iso ? new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit", second: "2-digit" }).format(new Date(iso)) : "";

  function when(session) {
    const start = new Date(session.scheduled_start);
    const end = new Date(session.scheduled_end);
    const format = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
    return typeof format.formatRange === "function" ? format.formatRange(start, end) : formatDate(start, locale);
  }

  // ---- the list --------------------------------------------------------------------------------

  async function load() {
    failure.hidden = true;
    loading.hidden = false;
    loading.setAttribute("aria-busy", "true");
    try {
      let token = "";
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const reply = await api.call("GET", "/api/v1/live-sessions", {
          query: { course_id: courseId, page_size: PAGE_SIZE, page_token: token },
        });
        for (const session of reply.sessions || []) if (shown(session)) upsert(session);
        token = reply.next_page_token || "";
        if (!token) break;
      }
    } catch (error) {
      failure.querySelector(".message").textContent = t("live.error_load", { message: words(error) });
      failure.hidden = false;
    } finally {
      loading.hidden = true;
      loading.removeAttribute("aria-busy");
      arrange();
    }
  }

  // Running first, then upcoming (soonest first), then ended (latest first).
  function arrange() {
    const sorted = [...cards.values()].sort((a, b) => {
      const rank = (ORDER[a.session.status] ?? 3) - (ORDER[b.session.status] ?? 3);
      if (rank) return rank;
      const gap = Date.parse(a.session.scheduled_start) - Date.parse(b.session.scheduled_start);
      return a.session.status === ENDED ? -gap : gap;
    });
    for (const card of sorted) list.append(card.node);
    empty.hidden = cards.size > 0 || !failure.hidden;
    list.hidden = cards.size === 0;
  }

  function upsert(session) {
    let card = cards.get(session.session_id);
    if (!card) {
      const node = template.content.firstElementChild.cloneNode(true);
      card = { node, session, rows: new Map(), open: false, report: false };
      cards.set(session.session_id, card);
      wire(card);
      list.append(node);
    }
    card.session = session;
    paint(card);
    if (staff && (session.status === LIVE || (session.status === SCHEDULED && soon(session)))) openAttendance(card);
    if (!staff && !card.joinUrl && !card.joining) join(card);
    return card;
  }

  // Between half an hour before its start and its planned end, a meeting may begin at any moment.
  const soon = (session) =>
    Date.parse(session.scheduled_start) - Date.now() < FOLLOW_AHEAD_MS && Date.now() < Date.parse(session.scheduled_end);

  function paint(card) {
    const { node, session } = card;
    const id = session.session_id;
    node.id = `live-${id}`;
    node.dataset.sessionId = id;
    node.dataset.status = session.status;
    const title = node.querySelector(".live-title");
    title.id = `live-title-${id}`;
    title.textContent = session.session_name;
    const badge = node.querySelector(".live-state");
    badge.textContent = t(`live.status.${BADGE[session.status] || "upcoming"}`);
    badge.className = `badge live-state ${BADGE[session.status] || "upcoming"}`;
    const whenElement = node.querySelector(".live-when");
    whenElement.dateTime = session.scheduled_start;
    whenElement.textContent = when(session);
    const seconds = (Date.parse(session.scheduled_end) - Date.parse(session.scheduled_start)) / 1000;
    node.querySelector(".live-length").textContent = t("live.length", { duration: formatDuration(seconds, locale) });
    for (const control of node.querySelectorAll(".actions > *, .join-link")) control.setAttribute("aria-describedby", title.id);
    if (!staff) return;
    const start = node.querySelector(".start-link");
    start.hidden = !(session.start_url && session.status !== ENDED);
    if (session.start_url) start.href = session.start_url;
    node.querySelector(".cancel-session").hidden = session.status !== SCHEDULED;
    const heading = node.querySelector(".attendance-heading");
    heading.id = `attendance-heading-${id}`;
    heading.textContent = t(session.status === ENDED ? "live.report_heading" : "live.attendance_heading");
    node.querySelector(".table-wrap").setAttribute("aria-labelledby", heading.id);
    node.querySelector(".attendance-table").setAttribute("aria-labelledby", heading.id);
  }

  function showError(card, text) {
    const element = card.node.querySelector(".session-error");
    element.textContent = text;
    element.hidden = !text;
  }

  function wire(card) {
    if (!staff) return;
    const { node } = card;
    const toggle = node.querySelector(".attendance-toggle");
    toggle.addEventListener("click", () => (card.open ? closeAttendance(card) : openAttendance(card)));
    node.querySelector(".cancel-session").addEventListener("click", () => confirmCancel(card));
    for (const button of node.querySelectorAll(".download")) {
      button.addEventListener("click", () => busy(button, () => save(card, button.dataset.format)));
    }
  }

  // ---- learners: their own join link -----------------------------------------------------------

  async function join(card) {
    const link = card.node.querySelector(".join-link");
    const waitingText = card.node.querySelector(".join-waiting");
    card.joining = true;
    try {
      const reply = await api.call("POST", path(card.session, "/join-links"), { body: {} });
      card.joinUrl = reply.join_url;
      link.href = reply.join_url;
      link.hidden = false;
      showError(card, "");
    } catch (error) {
      showError(card, t("live.error_join", { message: words(error) }));
    } finally {
      card.joining = false;
      waitingText.hidden = true;
      waitingText.removeAttribute("aria-busy");
    }
  }

  // ---- staff: attendance, live while the meeting runs, then the report -------------------------

  function openAttendance(card) {
    if (card.open) return;
    card.open = true;
    card.node.querySelector(".attendance").hidden = false;
    const toggle = card.node.querySelector(".attendance-toggle");
    toggle.setAttribute("aria-expanded", "true");
    toggle.textContent = t("live.attendance_hide");
    if (card.session.status === ENDED) loadReport(card);
    else follow(card);
  }

  function closeAttendance(card) {
    card.open = false;
    card.node.querySelector(".attendance").hidden = true;
    const toggle = card.node.querySelector(".attendance-toggle");
    toggle.setAttribute("aria-expanded", "false");
    toggle.textContent = t("live.attendance_show");
    const queued = waiting.indexOf(card.session.session_id);
    if (queued >= 0) waiting.splice(queued, 1);
    if (card.stream) card.stream.abort();
  }

  function follow(card) {
    const id = card.session.session_id;
    if (streaming.has(id) || waiting.includes(id)) return;
    if (streaming.size >= MAX_STREAMS) {
      waiting.push(id);
      attendanceNote(card, t("live.attendance_waiting"));
    } else watch(card);
  }

  function attendanceNote(card, text) {
    card.node.querySelector(".attendance-live").textContent = text;
  }

  function attendanceError(card, text) {
    const element = card.node.querySelector(".attendance-error");
    element.textContent = text;
    element.hidden = !text;
  }

  async function watch(card) {
    const id = card.session.session_id;
    streaming.add(id);
    const stream = new AbortController();
    card.stream = stream;
    let ended = false;
    try {
      await api.events(
        path(card.session, "/attendance/events"),
        (name, data) => {
          if (name === "snapshot" || name === "attendance") {
            if (name === "snapshot") card.rows.clear();
            for (const row of data.rows || []) card.rows.set(rowKey(row), row);
            if (data.status && data.status !== card.session.status) {
              card.session = { ...card.session, status: data.status };
              paint(card);
              arrange();
            }
            ended = data.status === ENDED || data.status === CANCELLED;
            renderRows(card);
            renderSummary(card, data);
            attendanceError(card, "");
          } else if (name === "joined" || name === "left") {
            logPresence(card, name, data);
          } else if (name === "error") {
            attendanceError(card, t("live.error_attendance", { message: (data.error && data.error.message) || "" }));
          }
        },
        stream.signal,
      );
    } catch (error) {
      if (error && error.name === "AbortError") return;
      attendanceError(card, t("live.error_attendance", { message: words(error) }));
    } finally {
      streaming.delete(id);
      card.stream = null;
      const next = waiting.shift();
      if (next && cards.has(next)) watch(cards.get(next));
    }
    if (!cards.has(id) || card.session.status === CANCELLED) return;
    if (ended || card.session.status === ENDED) {
      say(t("live.done_ended", { title: card.session.session_name }));
      loadReport(card);
    } else if (card.open && !stream.signal.aborted) {
      // The stream reached its deadline (or the connection dropped) before the meeting ended.
      setTimeout(() => card.open && follow(card), RECONNECT_MS);
    }
  }

  const rowKey = (row) => row.user_id || row.email || row.participant_name;

  function renderSummary(card, data) {
    const summary = data.summary || {};
    if (card.session.status === ENDED) {
      attendanceNote(
        card,
        t("live.summary_report", {
          present: summary.present_count || 0,
          late: summary.late_count || 0,
          absent: summary.absent_count || 0,
        }),
      );
    } else if (card.session.status === LIVE) {
      attendanceNote(
        card,
        t("live.summary_live", { now: data.live_participants || 0, joined: summary.participants || 0 }),
      );
    } else {
      attendanceNote(card, t("live.summary_waiting"));
    }
  }

  function logPresence(card, name, change) {
    const log = card.node.querySelector(".presence-log");
    const item = document.createElement("li");
    item.textContent = t(name === "joined" ? "live.log_joined" : "live.log_left", {
      name: change.participant_name || change.email || "?",
      time: time(change.occurred_at),
    });
    log.prepend(item);
    while (log.children.length > LOG_LENGTH) log.lastElementChild.remove();
  }

  function presence(row) {
    if (!row.first_join) return { text: t("live.presence.not_joined"), kind: "absent" };
    if (!row.last_leave) return { text: t("live.presence.in_meeting"), kind: "present" };
    return { text: t("live.presence.left"), kind: "left" };
  }

  function verdict(row) {
    const kind = (row.status || "ATTENDANCE_STATUS_ABSENT").replace("ATTENDANCE_STATUS_", "").toLowerCase();
    return { text: t(`live.verdict.${kind}`), kind };
  }

  function renderRows(card) {
    const table = card.node.querySelector(".attendance-table");
    const body = table.querySelector("tbody");
    const rows = [...card.rows.values()].sort((a, b) =>
      (a.participant_name || "").localeCompare(b.participant_name || "", locale),
    );
    const report = card.session.status === ENDED;
    body.replaceChildren(
      ...rows.map((row) => {
        const tr = document.createElement("tr");
        tr.dataset.participant = row.participant_name || "";
        const name = document.createElement("th");
        name.scope = "row";
        name.textContent = row.participant_name || row.email || row.user_id;
        const state = report ? verdict(row) : presence(row);
        const stateCell = document.createElement("td");
        const badge = document.createElement("span");
        badge.className = `badge attendance-state ${state.kind}`;
        badge.textContent = state.text;
        stateCell.append(badge);
        const joined = cell(time(row.first_join));
        const left = cell(row.first_join && !row.last_leave ? "" : time(row.last_leave));
        const attended = cell(
          row.first_join ? formatDuration(row.attended_seconds || 0, locale) + (row.estimated ? ` ${t("live.estimated")}` : "") : "",
        );
        tr.append(name, stateCell, joined, left, attended);
        return tr;
      }),
    );
    table.hidden = rows.length === 0;
    const none = card.node.querySelector(".attendance-empty");
    none.hidden = rows.length > 0;
    none.textContent = t(report ? "live.report_empty" : "live.attendance_empty");
  }

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  async function loadReport(card) {
    const spinner = card.node.querySelector(".attendance-loading");
    spinner.hidden = false;
    try {
      const report = await api.call("GET", path(card.session, "/attendance"));
      card.rows.clear();
      for (const row of report.rows || []) card.rows.set(rowKey(row), row);
      card.report = true;
      renderRows(card);
      renderSummary(card, report);
      card.node.querySelector(".downloads").hidden = false;
      attendanceError(card, "");
    } catch (error) {
      attendanceError(card, t("live.error_report", { message: words(error) }));
    } finally {
      spinner.hidden = true;
    }
  }

  async function save(card, format) {
    try {
      const saved = await downloadFile(api, path(card.session, "/attendance:export"), {
        query: { format },
        fallbackName: `attendance-${card.session.session_id}.${format}`,
      });
      attendanceError(card, "");
      say(t("live.done_downloaded", { name: saved.name }));
    } catch (error) {
      attendanceError(card, t("live.error_download", { message: words(error) }));
    }
  }

  // ---- staff: cancel ---------------------------------------------------------------------------

  function confirmCancel(card) {
    const id = card.session.session_id;
    confirmAction(dialog, {
      title: t("live.confirm_cancel_title", { title: card.session.session_name }),
      opener: card.node.querySelector(".cancel-session"),
      stillThere: () => cards.has(id),
      act: () => api.call("DELETE", path(card.session)),
      done: () => {
        if (card.stream) card.stream.abort();
        card.node.remove();
        cards.delete(id);
        say(t("live.done_cancelled", { title: card.session.session_name }));
        arrange();
        root.querySelector("h2").focus();
      },
      failure: (error) => t("live.error_cancel", { message: words(error) }),
    });
  }

  // ---- staff: schedule -------------------------------------------------------------------------

  function localInputValue(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }

  function mountForm() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    form.querySelector("#live-zone").textContent = t("live.zone", { zone });
    const start = form.querySelector("#live-start");
    const next = new Date();
    next.setMinutes(0, 0, 0);
    next.setHours(next.getHours() + 1);
    if (!start.value) start.value = localInputValue(next);
    const general = form.querySelector("#live-form-error");
    const submit = form.querySelector("#live-submit");

    const clear = () => {
      for (const element of form.querySelectorAll(".field-error")) {
        element.hidden = true;
        element.textContent = "";
      }
      for (const input of form.querySelectorAll("input")) input.removeAttribute("aria-invalid");
      general.hidden = true;
      general.textContent = "";
    };
    const fieldError = (inputId, text) => {
      const input = form.querySelector(`#${inputId}`);
      const element = form.querySelector(`#${inputId}-error`);
      input.setAttribute("aria-invalid", "true");
      element.textContent = element.textContent ? `${element.textContent} ${text}` : text;
      element.hidden = false;
      return input;
    };

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clear();
      const topic = form.querySelector("#live-topic").value;
      const minutes = Number(form.querySelector("#live-duration").value);
      const begins = start.value ? new Date(start.value) : null; // datetime-local: the viewer's wall time
      const invalid = [];
      if (!begins || Number.isNaN(begins.getTime())) invalid.push(fieldError("live-start", t("live.error_start")));
      if (!Number.isFinite(minutes) || minutes < 1) invalid.push(fieldError("live-duration", t("live.error_duration")));
      if (invalid.length) {
        invalid[0].focus();
        return;
      }
      const body = {
        session_name: topic,
        scheduled_start: begins.toISOString(),
        scheduled_end: new Date(begins.getTime() + minutes * 60_000).toISOString(),
        zoom_host_id: form.querySelector("#live-host").value.trim(),
        lti_config_id: configId,
        course_id: courseId,
      };
      busy(submit, async () => {
        try {
          const reply = await api.call("POST", "/api/v1/live-sessions", { body });
          const card = upsert(reply.session);
          arrange();
          form.querySelector("#live-topic").value = "";
          say(t("live.done_scheduled", { title: reply.session.session_name, when: when(reply.session) }));
          card.node.querySelector(".live-title").scrollIntoView({ block: "nearest" });
        } catch (error) {
          const placed = [];
          const elsewhere = [];
          for (const violation of error.violations || []) {
            const inputId = FIELD_OF_VIOLATION[violation.field];
            if (inputId) placed.push(fieldError(inputId, violation.description));
            else elsewhere.push(`${violation.field}: ${violation.description}`);
          }
          if (!placed.length || elsewhere.length) {
            const message = placed.length ? elsewhere.join("; ") : words(error);
            general.textContent = t("live.error_schedule", { message });
            general.hidden = false;
          }
          if (placed.length) placed[0].focus();
        }
      });
    });
  }

  if (staff && form) mountForm();
  root.querySelector("#live-retry").addEventListener("click", () => load());
  root.addEventListener("tab:shown", () => {
    if (loaded) return;
    loaded = true;
    load();
  });
}
