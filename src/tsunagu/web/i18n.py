"""Interface languages: Japanese first, English available.

Source strings (gettext msgids) are the Japanese interface text itself, so a missing or broken
catalog still shows the Japanese a school expects. ``locale/en/LC_MESSAGES/messages.po`` carries
the English; ``locale/ja`` exists so the Babel tooling (``make messages``) keeps both in step.

The ``.po`` files are compiled in memory with Babel the first time a language is needed: no
generated ``.mo`` is committed or has to be built before the portal starts.

Which language a request gets: the user's explicit choice (the ``tsunagu_lang`` cookie, set by
``POST /lang``), else the browser's ``Accept-Language`` (RFC 9110 §12.5.4, q-values honoured),
else Japanese.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
#: Supported interface languages, the default first.
LANGUAGES: tuple[str, ...] = ("ja", "en")
DEFAULT_LANGUAGE = LANGUAGES[0]
LANGUAGE_COOKIE = "tsunagu_lang"
#: What each language calls itself (the language switcher shows these, untranslated on purpose).
LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of one language (cached for the process)."""
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language not in LANGUAGES or not po_path.is_file():
        return gettext.NullTranslations()
    with po_path.open("rb") as stream:
        catalog = read_po(stream, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    # Fuzzy entries are drafts a translator has not confirmed: never shown (as msgfmt does).
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def parse_accept_language(header: str) -> list[str]:
    """Primary language subtags in preference order (``ja-JP;q=0.8`` → ``ja``)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        ranked.append((-quality, index, tag.strip().split("-")[0].lower()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGUAGES:
        return str(cookie)
    for tag in parse_accept_language(accept_language or ""):
        if tag in LANGUAGES:
            return tag
        if tag == "*":
            return DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE
