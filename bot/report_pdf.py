"""The progress report as a PDF (fpdf2): real text in an embedded Unicode font, charts as
pictures under their goal's heading. DejaVu Sans comes with matplotlib and covers Latin,
Vietnamese and Arabic; Chinese falls back to Noto Sans SC (`bot/script_layout.py`). Arabic is
shaped and laid out right to left by HarfBuzz, and an Arabic report is aligned to the right."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.progress_report import Block
from bot.script_layout import cjk_font, has_cjk, is_right_to_left, without_bidi_controls

if TYPE_CHECKING:
    from fpdf import FPDF

FONT = "DejaVu"
CJK_FONT = "NotoSansSC"
RIGHT_TO_LEFT_LANGUAGES = ("ar",)
CHART_WIDTH_MM = 170


@dataclass(frozen=True)
class Pdf:
    data: bytes
    pages: int


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def render_pdf(blocks: Sequence[Block], title: str, language: str) -> Pdf:
    """Lay the blocks out on A4 pages; the PDF's bytes and its page count."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_lang(language)
    pdf.set_creator("Tandem")
    texts = [title, *(text for block in blocks for text in (block.heading, *block.lines))]
    right_to_left = language in RIGHT_TO_LEFT_LANGUAGES
    _add_fonts(pdf, texts, right_to_left)
    align = "R" if right_to_left else "L"
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    for number, block in enumerate(blocks):
        pdf.set_font(FONT, "B", 18 if number == 0 else 14)
        pdf.multi_cell(0, 9, _printable(block.heading), align=align, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 10.5)
        for line in block.lines:
            indent = "    " if block.quoted else ""
            text = _printable(f"{indent}{line}")
            pdf.multi_cell(0, 6, text, align=align, new_x="LMARGIN", new_y="NEXT")
        if block.chart is not None:
            pdf.image(io.BytesIO(block.chart), w=CHART_WIDTH_MM)
        pdf.ln(4)
    return Pdf(bytes(pdf.output()), pdf.page_no())


def _printable(text: str) -> str:
    # The catalogs' isolates would print as boxes (DejaVu has no glyph for them); an Arabic
    # report sets every paragraph right to left instead, which is what they were for.
    return without_bidi_controls(text)


def _add_fonts(pdf: FPDF, texts: Sequence[str], right_to_left: bool) -> None:
    """DejaVu always; Noto Sans SC behind it when some text is Chinese; HarfBuzz shaping when
    some text is Arabic (each only when needed: the CJK font and the shaper cost time). Each
    paragraph of an Arabic report runs right to left, even one that opens with `IEP`."""
    fonts = _font_dir()
    pdf.add_font(FONT, "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
    cjk = cjk_font()
    if cjk is not None and any(has_cjk(text) for text in texts):
        pdf.add_font(CJK_FONT, "", str(cjk))
        pdf.set_fallback_fonts([CJK_FONT], exact_match=False)
    if right_to_left:
        pdf.set_text_shaping(use_shaping_engine=True, direction="rtl")
    elif any(is_right_to_left(text) for text in texts):  # an Arabic note in another language
        pdf.set_text_shaping(use_shaping_engine=True)
