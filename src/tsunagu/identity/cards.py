"""QR sign-in cards as a printable PDF: one card per pupil (kana name, class, QR code).

A4 portrait, two columns of five cards (the size of a name tag), cut lines drawn. Japanese text
uses reportlab's built-in CID font HeiseiKakuGo-W5, which every PDF reader supplies, so no font
file is needed. The QR code is drawn as vector squares (crisp at any printer resolution).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from tsunagu.identity.service import IssuedCard

FONT = "HeiseiKakuGo-W5"
COLUMNS, ROWS = 2, 5
MARGIN = 10 * mm


def card_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/signin/qr/{token}"


def _draw_qr(pdf: canvas.Canvas, data: str, x: float, y: float, size: float) -> None:
    code = segno.make(data, error="m", micro=False)
    matrix = list(code.matrix_iter(border=2))
    module = size / len(matrix)
    pdf.setFillColorRGB(0, 0, 0)
    for row_index, row in enumerate(matrix):
        top = y + size - (row_index + 1) * module
        for col_index, dark in enumerate(row):
            if dark:
                pdf.rect(x + col_index * module, top, module, module, stroke=0, fill=1)


def class_cards_pdf(
    cards: Sequence[IssuedCard], base_url: str, school_year_note: str = ""
) -> bytes:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle("サインインカード")
    width, height = A4
    card_w = (width - 2 * MARGIN) / COLUMNS
    card_h = (height - 2 * MARGIN) / ROWS
    per_page = COLUMNS * ROWS
    for index, card in enumerate(cards):
        if index and index % per_page == 0:
            pdf.showPage()
        slot = index % per_page
        col, row = slot % COLUMNS, slot // COLUMNS
        x = MARGIN + col * card_w
        y = height - MARGIN - (row + 1) * card_h
        pdf.setStrokeColorRGB(0.6, 0.6, 0.6)
        pdf.setDash(2, 2)
        pdf.rect(x, y, card_w, card_h, stroke=1, fill=0)
        pdf.setDash()
        qr_size = card_h - 10 * mm
        _draw_qr(
            pdf, card_url(base_url, card.token), x + card_w - qr_size - 5 * mm, y + 5 * mm, qr_size
        )
        text_x = x + 5 * mm
        pdf.setFillColorRGB(0, 0, 0)
        pdf.setFont(FONT, 16)
        pdf.drawString(text_x, y + card_h - 14 * mm, card.kana_name or card.display_name)
        pdf.setFont(FONT, 10)
        pdf.drawString(text_x, y + card_h - 22 * mm, card.class_title)
        pdf.setFont(FONT, 8)
        pdf.drawString(text_x, y + 9 * mm, "つなぐ サインインカード")
        if school_year_note:
            pdf.drawString(text_x, y + 5 * mm, school_year_note)
    if not cards:
        pdf.setFont(FONT, 12)
        pdf.drawString(MARGIN, height - MARGIN - 12, "このクラスには児童生徒がいません。")
    pdf.showPage()
    pdf.save()
    return out.getvalue()
