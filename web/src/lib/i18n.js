// The page's catalogue (web/i18n/<lang>.json, embedded by the server) as a t(key, params)
// function: the same keys and {placeholders} as the templates use.

export function translator(messages) {
  return (key, params = {}) =>
    (messages[key] ?? key).replace(/\{([a-z_]+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}
