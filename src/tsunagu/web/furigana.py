"""Furigana (ruby) for the kanji of interface text on young learners' screens (小1–小3).

Readings come from a reviewed word list rather than a morphological analyser: interface text is a
closed set we write ourselves, and a wrong automatic reading (今日 as こんにち) teaches a child the
wrong word. Subject names are listed too. Text a teacher types (unit titles) is shown as typed;
teachers of young classes write those in hiragana, as their worksheets do.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

from markupsafe import Markup, escape

#: Word → reading. Longest match wins, so compounds are listed whole (時間割 before 時間).
#: Single kanji whose reading changes with context (月: げつ/がつ, 火: か/ひ) are left out on
#: purpose: dates and weekdays on young learners' screens are written in hiragana instead; 日 is
#: listed as ひ because interface text only uses it alone as "day" (この日).
READINGS: dict[str, str] = {
    "今日": "きょう",
    "時間割": "じかんわり",
    "時間目": "じかんめ",
    "時間": "じかん",
    "今週": "こんしゅう",
    "週": "しゅう",
    "教材": "きょうざい",
    "開く": "ひらく",
    "開いた": "ひらいた",
    "使う": "つかう",
    "道具": "どうぐ",
    "学習": "がくしゅう",
    "記録": "きろく",
    "最近": "さいきん",
    "お知らせ": "おしらせ",
    "知らせ": "しらせ",
    "先生": "せんせい",
    "名前": "なまえ",
    "言葉": "ことば",
    "表示": "ひょうじ",
    "終了": "しゅうりょう",
    "終えた": "おえた",
    "答えた": "こたえた",
    "見た": "みた",
    "出した": "だした",
    "点": "てん",
    "国語": "こくご",
    "算数": "さんすう",
    "計算": "けいさん",
    "生活": "せいかつ",
    "音楽": "おんがく",
    "図画工作": "ずがこうさく",
    "図工": "ずこう",
    "体育": "たいいく",
    "道徳": "どうとく",
    "学活": "がっかつ",
    "学級活動": "がっきゅうかつどう",
    "理科": "りか",
    "社会": "しゃかい",
    "外国語": "がいこくご",
    "英語": "えいご",
    "総合": "そうごう",
    "曜日": "ようび",
    "書写": "しょしゃ",
    "授業": "じゅぎょう",
    "休み": "やすみ",
    "何": "なに",
    "次": "つぎ",
    "前": "まえ",
    "戻る": "もどる",
    "一覧": "いちらん",
    "全部": "ぜんぶ",
    "自分": "じぶん",
    "科目": "かもく",
    "教科": "きょうか",
    "単元": "たんげん",
    "年": "ねん",
    "組": "くみ",
    "小学校": "しょうがっこう",
    "学校": "がっこう",
    "言語": "げんご",
    "本文": "ほんぶん",
    "令和": "れいわ",
    "年度": "ねんど",
    "校時": "こうじ",
    "移動": "いどう",
    "市立": "しりつ",
    "町立": "ちょうりつ",
    "村立": "そんりつ",
    "中学校": "ちゅうがっこう",
    "義務教育学校": "ぎむきょういくがっこう",
    "開きました": "ひらきました",
    "見る": "みる",
    "始めた": "はじめた",
    "進めた": "すすめた",
    "閉じた": "とじた",
    "作った": "つくった",
    "読んだ": "よんだ",
    "合格": "ごうかく",
    "取り組んだ": "とりくんだ",
    "少し": "すこし",
    "日": "ひ",
}

KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u3005]")


@cache
def _pattern() -> re.Pattern[str]:
    words = sorted(READINGS, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words))


@lru_cache(maxsize=4096)
def with_ruby(text: str) -> Markup:
    """``text`` escaped, with every listed word wrapped in ``<ruby>`` (rp for old browsers).

    Memoised: a young learner's page passes the same interface strings and subject names
    through here dozens of times per render, and the regex scan was the render's largest cost.
    The bound keeps free text (unit titles, school names) from growing it without limit."""
    out: list[str] = []
    position = 0
    for match in _pattern().finditer(text):
        out.append(str(escape(text[position : match.start()])))
        word = match.group(0)
        out.append(
            f"<ruby>{escape(word)}<rp>(</rp><rt>{escape(READINGS[word])}</rt><rp>)</rp></ruby>"
        )
        position = match.end()
    out.append(str(escape(text[position:])))
    return Markup("".join(out))  # noqa: S704  (every piece above is escaped)


def kanji_outside_ruby(html: str) -> list[str]:
    """Kanji a page shows without a reading (for tests): ruby bases and tags removed first."""
    stripped = re.sub(r"<ruby>.*?</ruby>", "", html, flags=re.S)
    stripped = re.sub(r"<(script|style)\b.*?</\1>", "", stripped, flags=re.S)
    stripped = re.sub(r"<[^>]+>", " ", stripped)
    return sorted(set(KANJI.findall(stripped)))
