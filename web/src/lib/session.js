// The session token, held in this page's memory only: never in a cookie, localStorage or a
// URL, so the page works in an LMS iframe that blocks third-party cookies and storage.
// Before it expires it is traded for a fresh one (POST /api/v1/sessions:refresh); the
// server refuses once the session reaches its longest lifetime, and the page then says so.

const REFRESH_MARGIN = 0.2; // refresh when 80 % of the token's life has passed
const MIN_MARGIN_MS = 30_000;
const RETRY_MS = 15_000;

export class Session extends EventTarget {
  constructor({ session_token, expires_at }) {
    super();
    this.token = session_token;
    this.expiresAt = Date.parse(expires_at);
    this.receivedAt = Date.now();
    this.timer = 0;
    this.ended = false;
  }

  start() {
    this.schedule();
    document.addEventListener("visibilitychange", () => {
      // Timers sleep with the laptop; on wake, catch up at once if the refresh is due.
      if (document.visibilityState === "visible" && Date.now() >= this.refreshAt()) this.refresh();
    });
  }

  refreshAt() {
    const life = this.expiresAt - this.receivedAt;
    // Never later than 80 % of its life, never earlier than half of it (short tokens refresh less eagerly).
    return this.expiresAt - Math.min(Math.max(MIN_MARGIN_MS, life * REFRESH_MARGIN), life / 2);
  }

  schedule(delay = this.refreshAt() - Date.now()) {
    clearTimeout(this.timer);
    if (!this.ended) this.timer = setTimeout(() => this.refresh(), Math.max(0, delay));
  }

  async refresh() {
    if (this.ended || this.refreshing) return;
    this.refreshing = true;
    try {
      const response = await fetch("/api/v1/sessions:refresh", {
        method: "POST",
        headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json", Accept: "application/json" },
        body: "{}",
        credentials: "omit",
        cache: "no-store",
      });
      if (response.ok) {
        const fresh = await response.json();
        this.token = fresh.session_token;
        this.expiresAt = Date.parse(fresh.expires_at);
        this.receivedAt = Date.now();
        this.dispatchEvent(new CustomEvent("refreshed", { detail: { expiresAt: this.expiresAt } }));
        this.schedule();
      } else if (response.status === 401 || response.status === 403) {
        this.end();
      } else {
        this.retry();
      }
    } catch {
      this.retry();
    } finally {
      this.refreshing = false;
    }
  }

  retry() {
    if (Date.now() + RETRY_MS < this.expiresAt) this.schedule(RETRY_MS);
    else this.end();
  }

  end() {
    this.ended = true;
    clearTimeout(this.timer);
    this.dispatchEvent(new Event("ended"));
  }
}
