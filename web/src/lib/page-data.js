// Data the server hands a page: JSON in <script type="application/json" id=...> blocks,
// which never execute and which the CSP therefore need not allow.

export function readJson(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}
