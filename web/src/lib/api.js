// The public REST API, called exactly as any client calls it: JSON, with the session token
// as a Bearer header. No cookie is sent (credentials: "omit"), so nothing depends on the
// browser allowing cookies inside the LMS's iframe.

export class ApiError extends Error {
  constructor(message, { status = 0, reason = "", violations = [], network = false } = {}) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.violations = violations;
    this.network = network;
  }
}

export function errorOf(status, body, fallback) {
  const error = (body && body.error) || {};
  const details = Array.isArray(error.details) ? error.details : [];
  const info = details.find((d) => d && d.reason);
  const violations = details.flatMap((d) => (d && Array.isArray(d.field_violations) ? d.field_violations : []));
  return new ApiError(error.message || fallback, { status, reason: info ? info.reason : "", violations });
}

export class Api {
  constructor(session) {
    this.session = session;
  }

  async send(method, path, { body, query, signal, accept = "application/json" } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== "") url.searchParams.set(name, value);
    }
    const headers = { Authorization: `Bearer ${this.session.token}`, Accept: accept };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      return await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        signal,
      });
    } catch (cause) {
      if (cause && cause.name === "AbortError") throw cause;
      throw new ApiError("network", { network: true });
    }
  }

  async call(method, path, options = {}) {
    const response = await this.send(method, path, options);
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = null;
    }
    if (!response.ok) throw errorOf(response.status, body, `${response.status} ${response.statusText}`);
    return body;
  }

  // Server-sent events over fetch: EventSource cannot send an Authorization header.
  async events(path, onEvent, signal) {
    const response = await this.send("GET", path, { signal, accept: "text/event-stream" });
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = null;
      }
      throw errorOf(response.status, body, `${response.status} ${response.statusText}`);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) onEvent(event.name, event.data);
      }
    }
  }
}

function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { name, data: JSON.parse(data.join("\n")) } : null;
}
