// Downloads of files the API serves only to a Bearer token. Inside an LMS iframe the token
// lives in page memory, so a plain link (which would carry no Authorization header, and no
// cookie either) cannot fetch them: the page fetches the bytes itself and hands them to the
// browser as a Blob behind an object URL with a download name.
import { errorOf } from "./api.js";

const REVOKE_AFTER_MS = 60_000;

// The file name of a Content-Disposition header (RFC 6266: filename*=UTF-8'' wins over filename).
export function filenameOf(disposition, fallback) {
  if (!disposition) return fallback;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition);
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // Malformed percent-encoding: fall back to the plain parameter.
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)/i.exec(disposition);
  return (plain && (plain[1] || plain[2] || "").trim()) || fallback;
}

// GET `path` with the session's token and save the answer as a file; throws the API's error in words.
export async function downloadFile(api, path, { query, fallbackName }) {
  const response = await api.send("GET", path, { query, accept: "*/*" });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw errorOf(response.status, body, `${response.status} ${response.statusText}`);
  }
  const blob = await response.blob();
  const name = filenameOf(response.headers.get("Content-Disposition"), fallbackName);
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
  return { name, size: blob.size };
}
