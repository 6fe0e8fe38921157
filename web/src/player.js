// The video player: hls.js on a <video> element, in a dialog opened from the library.
//
// Playlists and segments are authorised by an HLS access token in their URLs (players cannot
// send a Bearer header). The token, and every segment URL signed with it, stops working at its
// expiry, so before then the player asks for a new token and, for every rendition it has
// loaded, the variant playlist again: later requests for a playlist get the new token, and
// later requests for a segment get that segment's fresh URL. A long lecture never stops.
import Hls from "hls.js";
import { tokenRefreshDelay, withToken } from "./lib/hls-token.js";

const RETRY_MS = 5_000;

export class Player {
  constructor(root, { api, t }) {
    this.root = root;
    this.api = api;
    this.t = t;
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
  }

  async open(video, opener) {
    this.stop();
    this.opener = opener;
    this.videoId = video.video_id;
    this.root.querySelector(".player-title").textContent = video.title || this.t("video.untitled");
    this.showError("");
    this.root.dataset.state = "loading";
    if (!this.root.open) this.root.showModal();
    this.video.focus();
    try {
      await this.fetchToken();
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
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
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

  // Fetch the variant playlist of every rendition hls.js has loaded, with the new token, and
  // remember each segment's new URL: the xhrSetup below swaps it in for the stale one.
  async resignSegments(hls) {
    const loaded = hls.levels.filter((level) => level.details);
    await Promise.all(
      loaded.map(async (level) => {
        const url = withToken(level.url[0], this.token);
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
      if (!data.fatal) return;
      this.root.dataset.state = "failed";
      this.root.dataset.fatalError = data.details;
      this.showError(this.t("player.error_playback", { message: data.details }));
      hls.destroy();
      if (this.hls === hls) this.hls = null;
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      this.root.dataset.state = "ready";
      this.root.dispatchEvent(new CustomEvent("levels", { detail: hls.levels }));
      this.video.play().catch(() => {
        // Autoplay refused (no recent click): the video's own play control starts it.
      });
    });
    hls.attachMedia(this.video);
    hls.loadSource(this.masterUrl);
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }
}
