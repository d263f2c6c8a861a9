from __future__ import annotations

from datetime import date
from pathlib import Path

from babel.messages.extract import extract_from_dir

from tsunagu.web import dates
from tsunagu.web.furigana import kanji_outside_ruby, with_ruby
from tsunagu.web.i18n import negotiate, parse_accept_language, translations

ROOT = Path(__file__).resolve().parents[2]


def test_every_interface_string_has_an_english_translation() -> None:
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    found = {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(ROOT / "src" / "tsunagu"),
            method_map,
            options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
            keywords={"_": None, "N_": None},
        )
        if isinstance(message, str) and message
    }
    assert len(found) > 100
    english = translations("en")
    missing = sorted(m for m in found if english.gettext(m) == m)
    assert missing == []


def test_language_negotiation() -> None:
    assert parse_accept_language("en-US;q=0.5, ja-JP, fr;q=0") == ["ja", "en"]
    assert negotiate(None, "en-GB,en;q=0.9") == "en"
    assert negotiate(None, "fr, de") == "ja"
    assert negotiate("ja", "en") == "ja"
    assert negotiate("xx", "en;q=bad, en") == "en"


def test_school_year_and_japanese_dates() -> None:
    assert dates.school_year(date(2027, 3, 31)) == 2026
    assert dates.school_year(date(2027, 4, 1)) == 2027
    assert dates.nendo(date(2026, 11, 24)) == "令和8年度"
    assert dates.nendo(date(2020, 1, 10)) == "令和元年度"
    assert dates.nendo(date(2019, 3, 1)) == "平成30年度"
    assert dates.nendo(date(2026, 11, 24), "en") == "School year 2026"
    assert dates.long_date(date(2026, 11, 24)) == "2026年11月24日（火）"
    assert dates.kana_date(date(2026, 11, 24)) == "11がつ 24にち（かようび）"


def test_furigana_longest_match_and_escaping() -> None:
    html = str(with_ruby("今日の時間割<b>"))
    assert html.startswith("<ruby>今日<rp>(</rp><rt>きょう</rt>")
    assert "<ruby>時間割<rp>(</rp><rt>じかんわり</rt>" in html
    assert "&lt;b&gt;" in html
    assert kanji_outside_ruby(html) == []
    assert kanji_outside_ruby("<p>漢字</p>") == ["字", "漢"]
