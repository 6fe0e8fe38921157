// Dates and durations in the viewer's language (the launch's locale) and time zone (the browser's).

export function usableLocale(preferred) {
  for (const candidate of [preferred, navigator.language]) {
    if (!candidate) continue;
    try {
      return Intl.getCanonicalLocales(candidate.replace("_", "-"))[0];
    } catch {
      // Not a BCP 47 tag: try the next one.
    }
  }
  return undefined;
}

export function formatDuration(seconds, locale) {
  const total = Math.max(0, Math.round(seconds));
  const parts = { hours: Math.floor(total / 3600), minutes: Math.floor((total % 3600) / 60), seconds: total % 60 };
  if (typeof Intl.DurationFormat === "function") {
    return new Intl.DurationFormat(locale, { style: "narrow" }).format(parts);
  }
  const pad = (n) => String(n).padStart(2, "0");
  return parts.hours ? `${parts.hours}:${pad(parts.minutes)}:${pad(parts.seconds)}` : `${parts.minutes}:${pad(parts.seconds)}`;
}

export function formatDate(iso, locale) {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}
