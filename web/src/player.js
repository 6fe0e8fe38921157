// The video player: hls.js on a <video> element, in a dialog opened from the library.
//
// Playlists and segments are authorised by an HLS access token in their URLs (players cannot
// send a Bearer header). The token, and every segment URL signed with it, stops working at its
// expiry, so before then the player asks for a new token and, for every rendition it has
// loaded, the variant playlist again: later requests for a playlist get the new token, and
// later requests for a segment get that segment's fresh URL. A long lecture never stops.
// The full build, not the light one (about 225 kB less): a demuxed video (issue 17: a long
// lecture transcoded in chunks) keeps its audio in one alternative-audio rendition, the
// master's EXT-X-MEDIA:TYPE=AUDIO, and the light build leaves out the audio-track code that
// plays it (it would play such a video without sound).
import Hls from "hls.js";
import { tokenRefreshDelay, withToken } from "./lib/hls-token.js";

const RETRY_MS = 5_000;
const HEARTBEAT_MS = 10_000;
const SPEEDS = [0.75, 1, 1.25, 1.5, 1.75, 2];
const SEEK_SECONDS = 5;

// What a key pressed in the player does, or "" (keys typed into a control are the control's).
export function keyAction(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return "";
  const tag = event.target && event.target.tagName;
  if (tag === "SELECT" || tag === "INPUT" || tag === "TEXTAREA") return "";
  const onButton = tag === "BUTTON";
  switch (event.key) {
    case " ":
      return onButton ? "" : "toggle";
    case "k":
    case "K":
      return "toggle";
    case "ArrowLeft":
      return "back";
    case "ArrowRight":
      return "forward";
    case "f":
    case "F":
      return "fullscreen";
    case "m":
    case "M":
      return "mute";
    default:
      return "";
  }
}

export class Player {
  constructor(root, { api, t, locale }) {
    this.root = root;
    this.api = api;
    this.t = t;
    this.locale = locale;
    this.video = root.querySelector("video");
    this.error = root.querySelector(".player-error");
    this.hls = null;
    this.token = "";
    this.expiresAt = 0;
    this.timer = 0;
    this.fresh = new Map(); // segment URL without its query → its URL signed for the current token
    this.opener = null;
    root.querySelector(".player-close").addEventListener("click", () => this.close());
    root.addEventListener("close", () => this.stop());
    this.wireControls();
    this.heartbeat = 0;
    this.video.addEventListener("playing", () => {
      clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => this.recordProgress(), HEARTBEAT_MS);
    });
    this.video.addEventListener("pause", () => {
      clearInterval(this.heartbeat);
      this.recordProgress();
    });
    window.addEventListener("pagehide", () => this.recordProgress());
  }

  // ---- where this viewer left off (playback_svc keeps it) ---------------------------------------

  progressPath() {
    return `/api/v1/media/videos/${encodeURIComponent(this.videoId)}/progress`;
  }

  async resumePosition() {
    try {
      const reply = await this.api.call("GET", this.progressPath());
      return (reply.progress && reply.progress.resume_seconds) || 0;
    } catch {
      return 0; // no stored position to be had: start at the beginning, as a first viewing does
    }
  }

  // A heartbeat: fetch with keepalive, so it is still sent while the page unloads
  // (navigator.sendBeacon cannot carry the Bearer header).
  recordProgress() {
    const { video } = this;
    if (!this.videoId || !this.started) return;
    const body = {
      position_seconds: video.currentTime || 0,
      duration_seconds: Number.isFinite(video.duration) ? video.duration : 0,
    };
    if (body.position_seconds === this.lastRecorded) return;
    this.lastRecorded = body.position_seconds;
    fetch(this.progressPath(), {
      method: "POST",
      headers: { Authorization: `Bearer ${this.api.session.token}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      keepalive: true,
    }).catch(() => {
      this.lastRecorded = undefined; // the next heartbeat tries again
    });
  }

  // ---- controls: play/pause, mute, quality, speed, full screen, keys ----------------------------

  wireControls() {
    const { root, video, t } = this;
    this.toggleButton = root.querySelector(".player-toggle");
    this.muteButton = root.querySelector(".player-mute");
    this.quality = root.querySelector(".player-quality");
    this.speed = root.querySelector(".player-speed");
    this.fullscreenButton = root.querySelector(".player-fullscreen");
    this.stage = root.querySelector(".player-stage");
    const rate = new Intl.NumberFormat(this.locale || undefined, { maximumFractionDigits: 2 });
    for (const speed of SPEEDS) {
      const option = new Option(t("player.speed_value", { rate: rate.format(speed) }), String(speed), speed === 1, speed === 1);
      this.speed.append(option);
    }
    this.toggleButton.addEventListener("click", () => this.toggle());
    this.muteButton.addEventListener("click", () => this.toggleMute());
    this.fullscreenButton.addEventListener("click", () => this.toggleFullscreen());
    this.fullscreenButton.hidden = !document.fullscreenEnabled;
    this.speed.addEventListener("change", () => this.setSpeed(Number(this.speed.value)));
    this.quality.addEventListener("change", () => {
      if (this.hls) this.hls.currentLevel = Number(this.quality.value);
    });
    for (const name of ["play", "pause", "volumechange", "emptied"]) video.addEventListener(name, () => this.paintControls());
    video.addEventListener("ratechange", () => {
      this.speed.value = String(video.playbackRate);
    });
    document.addEventListener("fullscreenchange", () => this.paintControls());
    // Captured before the <video> sees them: Chromium's own media controls would act on some
    // of these keys again (a second play/pause) when they come up.
    root.addEventListener(
      "keydown",
      (event) => {
        const action = keyAction(event);
        if (!action) return;
        event.preventDefault();
        event.stopPropagation();
        if (action === "toggle") this.toggle();
        else if (action === "back") this.seekBy(-SEEK_SECONDS);
        else if (action === "forward") this.seekBy(SEEK_SECONDS);
        else if (action === "fullscreen") this.toggleFullscreen();
        else if (action === "mute") this.toggleMute();
      },
      { capture: true },
    );
    for (const name of ["keyup", "keypress"]) {
      root.addEventListener(
        name,
        (event) => {
          if (!keyAction(event)) return;
          event.preventDefault();
          event.stopPropagation();
        },
        { capture: true },
      );
    }
    this.paintControls();
  }

  paintControls() {
    const { video, t } = this;
    this.toggleButton.textContent = t(video.paused ? "player.play" : "player.pause");
    this.muteButton.setAttribute("aria-pressed", String(video.muted));
    const full = document.fullscreenElement === this.stage;
    this.fullscreenButton.textContent = t(full ? "player.exit_fullscreen" : "player.fullscreen");
  }

  toggle() {
    if (this.video.paused) this.video.play().catch(() => {});
    else this.video.pause();
  }

  toggleMute() {
    this.video.muted = !this.video.muted;
  }

  seekBy(seconds) {
    const { video } = this;
    const end = Number.isFinite(video.duration) ? video.duration : video.currentTime + seconds;
    video.currentTime = Math.min(Math.max(0, video.currentTime + seconds), end);
  }

  setSpeed(rate) {
    this.video.defaultPlaybackRate = rate;
    this.video.playbackRate = rate;
  }

  toggleFullscreen() {
    if (!document.fullscreenEnabled) return;
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else this.stage.requestFullscreen().catch(() => {});
  }

  fillQualities(levels) {
    const { t } = this;
    this.quality.replaceChildren(new Option(t("player.quality_auto"), "-1", true, true));
    const rungs = levels.map((level, index) => ({ index, height: level.height })).sort((a, b) => b.height - a.height);
    for (const { index, height } of rungs) this.quality.append(new Option(t("player.quality_rung", { height }), String(index)));
  }

  paintQuality(level) {
    const auto = this.quality.options[0];
    const playing = this.hls && this.hls.levels[level];
    auto.textContent = this.hls && this.hls.autoLevelEnabled && playing
      ? this.t("player.quality_auto_now", { quality: this.t("player.quality_rung", { height: playing.height }) })
      : this.t("player.quality_auto");
    this.root.dataset.level = String(level);
  }

  async open(video, opener) {
    this.stop();
    this.opener = opener;
    this.videoId = video.video_id;
    this.started = false;
    this.lastRecorded = undefined;
    this.root.querySelector(".player-title").textContent = video.title || this.t("video.untitled");
    this.showError("");
    this.root.dataset.state = "loading";
    delete this.root.dataset.errors;
    delete this.root.dataset.audioTracks;
    if (!this.root.open) this.root.showModal();
    this.video.focus();
    try {
      const [resume] = await Promise.all([this.resumePosition(), this.fetchToken()]);
      this.startPosition = resume > 0 ? resume : -1;
      this.root.dataset.resumeFrom = String(resume);
    } catch (error) {
      this.root.dataset.state = "failed";
      this.showError(this.t("player.error_token", { message: error.network ? this.t("error.network") : error.message }));
      return;
    }
    this.attach();
  }

  close() {
    this.root.close();
  }

  stop() {
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    this.recordProgress();
    this.started = false; // emptying the <video> below pauses it at 0: not a position to keep
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    this.video.removeAttribute("src");
    this.video.load();
    this.fresh.clear();
    if (!this.root.open && this.opener) {
      this.opener.focus();
      this.opener = null;
    }
  }

  async fetchToken() {
    const reply = await this.api.call("GET", `/api/v1/media/hls/${encodeURIComponent(this.videoId)}/access-token`);
    this.token = reply.token;
    this.masterUrl = reply.master_url;
    this.issuedAt = Date.now();
    this.expiresAt = Date.parse(reply.expires_at);
    this.root.dataset.tokenExpires = new Date(this.expiresAt).toISOString();
    this.schedule(tokenRefreshDelay(this.issuedAt, this.expiresAt, Date.now()));
  }

  schedule(delay) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), Math.max(0, delay));
  }

  async refresh() {
    const hls = this.hls;
    try {
      await this.fetchToken();
      if (hls && hls === this.hls) await this.resignSegments(hls);
    } catch {
      if (Date.now() + RETRY_MS < this.expiresAt) this.schedule(RETRY_MS);
    }
  }

  // Fetch the variant playlist of every rendition hls.js has loaded (video rungs and, for a
  // demuxed video, its audio rendition), with the new token, and remember each segment's new
  // URL: the xhrSetup below swaps it in for the stale one.
  async resignSegments(hls) {
    const loaded = [
      ...hls.levels.filter((level) => level.details).map((level) => level.url[0]),
      ...hls.audioTracks.filter((track) => track.details).map((track) => track.url),
    ];
    await Promise.all(
      loaded.map(async (playlistUrl) => {
        const url = withToken(playlistUrl, this.token);
        const response = await fetch(url, { credentials: "omit", cache: "no-store" });
        if (!response.ok) throw new Error(`${response.status}`);
        const text = await response.text();
        for (const line of text.split("\n")) {
          const uri = line.trim();
          if (!uri || uri.startsWith("#")) continue;
          const absolute = new URL(uri, url);
          this.fresh.set(absolute.origin + absolute.pathname, absolute.href);
        }
      }),
    );
  }

  currentUrl(url) {
    const parsed = new URL(url, window.location.href);
    const signed = this.fresh.get(parsed.origin + parsed.pathname);
    if (signed) return signed;
    if (parsed.origin === window.location.origin && parsed.searchParams.has("token")) return withToken(parsed.href, this.token);
    return url;
  }

  attach() {
    const player = this;
    if (!Hls.isSupported()) {
      this.root.dataset.state = "failed";
      this.showError(this.t("player.error_unsupported"));
      return;
    }
    const hls = new Hls({
      enableWorker: false, // the page's CSP allows no worker; transmuxing 1-second segments is cheap
      // At most 20 s ahead (hls.js would otherwise fill 60 MB: all of a low-bitrate lecture),
      // so a learner who stops early has not downloaded the rest.
      maxBufferLength: 20,
      maxMaxBufferLength: 20,
      startPosition: this.startPosition ?? -1,
      xhrSetup(xhr, url) {
        const current = player.currentUrl(url);
        if (current !== url) xhr.open("GET", current, true);
      },
    });
    this.hls = hls;
    hls.on(Hls.Events.ERROR, (event, data) => {
      // Every kind of error seen, fatal or not, as "type:details" (say "mediaError:bufferSeekOverHole"):
      // hls.js reports and recovers from some on its own; a spec or a bug report reads the list.
      const seen = new Set((this.root.dataset.errors || "").split(" ").filter(Boolean));
      this.root.dataset.errors = [...seen.add(`${data.type}:${data.details}`)].join(" ");
      if (!data.fatal) return;
      this.root.dataset.state = "failed";
      this.root.dataset.fatalError = data.details;
      this.showError(this.t("player.error_playback", { message: data.details }));
      hls.destroy();
      if (this.hls === hls) this.hls = null;
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      this.root.dataset.state = "ready";
      this.fillQualities(hls.levels);
      this.setSpeed(Number(this.speed.value));
      this.video.play().catch(() => {
        // Autoplay refused (no recent click): the video's own play control starts it.
      });
    });
    this.video.addEventListener("playing", () => (this.started = true), { once: true });
    hls.on(Hls.Events.LEVEL_SWITCHED, (event, data) => this.paintQuality(data.level));
    // How many alternative-audio tracks the master offers: 1 for a demuxed video (unset for a muxed one).
    hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, (event, data) => (this.root.dataset.audioTracks = String(data.audioTracks.length)));
    hls.attachMedia(this.video);
    hls.loadSource(this.masterUrl);
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }
}
