"""Dates as Japanese schools write them: 2026年11月24日（火）, 令和8年度.

The school year (年度) runs from 1 April to 31 March (学校教育法施行規則 第59条), so January 2027
belongs to 2026年度. Era years follow the 元号 (令和 from 2019-05-01); a school year is named by
its calendar year's era as government and schools do: 2019年度 is 令和元年度 although it began
under 平成.
"""

from __future__ import annotations

from datetime import date, datetime

WEEKDAYS_JA = ("月", "火", "水", "木", "金", "土", "日")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_EN = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
#: (first calendar year, era name), newest first.
ERAS = ((2019, "令和"), (1989, "平成"))


def school_year(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def era_year(year: int) -> str:
    for first, name in ERAS:
        if year >= first:
            number = year - first + 1
            return f"{name}{'元' if number == 1 else number}年"
    return f"{year}年"


def nendo(day: date, language: str = "ja") -> str:
    """``令和8年度`` (or ``School year 2026``) for the school year ``day`` falls in."""
    year = school_year(day)
    if language != "ja":
        return f"School year {year}"
    return era_year(year) + "度"


def long_date(day: date | datetime, language: str = "ja") -> str:
    if language != "ja":
        return f"{WEEKDAYS_EN[day.weekday()]} {day.day} {MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAYS_JA[day.weekday()]}）"


def short_date(day: date | datetime, language: str = "ja") -> str:
    if language != "ja":
        return f"{day.day} {MONTHS_EN[day.month - 1]} ({WEEKDAYS_EN[day.weekday()]})"
    return f"{day.month}月{day.day}日（{WEEKDAYS_JA[day.weekday()]}）"


def time_of_day(moment: datetime) -> str:
    return f"{moment.hour}:{moment.minute:02d}"


WEEKDAYS_KANA = ("げつ", "か", "すい", "もく", "きん", "ど", "にち")


def kana_date(day: date | datetime) -> str:
    """The date for 小1–小3 screens, all in hiragana and digits: ``11がつ 24にち（かようび）``."""
    return f"{day.month}がつ {day.day}にち（{WEEKDAYS_KANA[day.weekday()]}ようび）"
