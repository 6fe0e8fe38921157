"""Message catalogues: every user-visible string, one JSON file per language in ``web/i18n/``.

Templates call ``t(key, **params)``; scripts get the same catalogue embedded in the page
and call their own ``t``, so a string is translated once for both. Placeholders are
``{name}``, filled by plain substitution (never ``str.format``, which would let a
catalogue reach attributes of its arguments). English is complete by construction (it is
the reference); a key another language lacks falls back to English, and a test keeps the
files in step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CATALOGUE_DIR = Path(__file__).with_name("i18n")
DEFAULT_LANGUAGE = "en"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")


def fill(template: str, params: Mapping[str, object]) -> str:
    """Replace each ``{name}`` with its parameter; an unknown name stays as written, visibly."""
    return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), template)


@dataclass(frozen=True)
class Catalogue:
    """The messages of one language, English filled in where it has no translation."""

    language: str
    messages: Mapping[str, str]

    def t(self, key: str, /, **params: object) -> str:
        """The message for ``key``; a missing key shows itself, so it is seen and fixed, never blank."""
        return fill(self.messages.get(key, key), params)


class Catalogues:
    """Every language's catalogue, read once at start (pages never touch the disk per request)."""

    def __init__(self, raw: Mapping[str, Mapping[str, str]]) -> None:
        if DEFAULT_LANGUAGE not in raw:
            raise ValueError(
                f"no {DEFAULT_LANGUAGE}.json catalogue: English is the reference every language falls back to"
            )
        reference = raw[DEFAULT_LANGUAGE]
        self._by_language = {
            language: Catalogue(language, {**reference, **messages}) for language, messages in raw.items()
        }

    @classmethod
    def load(cls, directory: Path = CATALOGUE_DIR) -> Catalogues:
        raw: dict[str, dict[str, str]] = {}
        for path in sorted(directory.glob("*.json")):
            messages = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(messages, dict) or not all(isinstance(v, str) for v in messages.values()):
                raise ValueError(f"{path} must be one JSON object of strings")
            raw[path.stem] = messages
        return cls(raw)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_language))

    def get(self, language: str) -> Catalogue:
        return self._by_language.get(language, self._by_language[DEFAULT_LANGUAGE])

    def for_locale(self, locale: str) -> Catalogue:
        """The catalogue of a BCP 47 tag as LMSs send it ("es", "es-419", Moodle's "es_mx"), else English."""
        return self.get(self.language_of(locale) or DEFAULT_LANGUAGE)

    def language_of(self, locale: str) -> str | None:
        tag = locale.strip()
        if not _LANGUAGE_TAG.match(tag):
            return None
        primary = re.split(r"[-_]", tag)[0].lower()
        return primary if primary in self._by_language else None

    def for_accept_language(self, header: str | None) -> Catalogue:
        """For pages before any launch (a refused login): the browser's preferred language we have."""
        ranked: list[tuple[float, int, str]] = []
        for position, part in enumerate((header or "").split(",")):
            tag, _, params = part.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            if tag and quality > 0:
                ranked.append((-quality, position, tag))
        for _, _, tag in sorted(ranked):
            language = self.language_of(tag)
            if language is not None:
                return self.get(language)
        return self.get(DEFAULT_LANGUAGE)
