"""The progress report as a PDF (fpdf2): real text in an embedded Unicode font, charts as
pictures under their goal's heading. DejaVu Sans comes with matplotlib, so no system font is
needed and every catalog language prints."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.progress_report import Block

FONT = "DejaVu"
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
    fonts = _font_dir()
    pdf.add_font(FONT, "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    for number, block in enumerate(blocks):
        pdf.set_font(FONT, "B", 18 if number == 0 else 14)
        pdf.multi_cell(0, 9, block.heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 10.5)
        for line in block.lines:
            indent = "    " if block.quoted else ""
            pdf.multi_cell(0, 6, f"{indent}{line}", new_x="LMARGIN", new_y="NEXT")
        if block.chart is not None:
            pdf.image(io.BytesIO(block.chart), w=CHART_WIDTH_MM)
        pdf.ln(4)
    return Pdf(bytes(pdf.output()), pdf.page_no())
