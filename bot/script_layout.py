"""Text for the drawers that do not lay out every script themselves: the PDF and the charts.

fpdf2 shapes Arabic and orders right-to-left runs through HarfBuzz (`set_text_shaping`), but
only when asked; matplotlib does neither, so a chart's Arabic labels are shaped here
(arabic-reshaper) and put in the order they are drawn in (python-bidi). Neither draws a
character its font lacks: DejaVu Sans covers Latin, Vietnamese and Arabic, and Chinese comes
from Noto Sans SC (the `pylopdf-fonts-zh-cn` package, SIL Open Font License).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

# The catalogs' bidi isolates and marks: a renderer that runs the bidi algorithm itself (fpdf2,
# python-bidi over the whole label) needs none, and fonts draw some of them as boxes.
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_RIGHT_TO_LEFT = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_CJK = re.compile("[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")

# Where a machine may have a CJK font when the package is missing (Debian, Fedora, Alpine).
_SYSTEM_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)


def without_bidi_controls(text: str) -> str:
    return _BIDI_CONTROLS.sub("", text)


def is_right_to_left(text: str) -> bool:
    """Whether the text holds Arabic or Hebrew letters, which need shaping and reordering."""
    return _RIGHT_TO_LEFT.search(text) is not None


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def drawn_order(text: str) -> str:
    """The label as a left-to-right drawer must get it: Arabic joined and in visual order."""
    text = without_bidi_controls(text)
    if not is_right_to_left(text):
        return text
    from arabic_reshaper import reshape
    from bidi import get_display

    return str(get_display(reshape(text)))


@cache
def cjk_font() -> Path | None:
    """A font with Chinese characters: the package's Noto Sans SC, else a system one."""
    try:
        from pylopdf_fonts_zh_cn import sans_path
    except ImportError:  # a dependency, but a packager may leave it out for a system font
        packaged = None
    else:
        packaged = Path(sans_path())
    candidates = ([packaged] if packaged else []) + [Path(path) for path in _SYSTEM_CJK_FONTS]
    return next((path for path in candidates if path.is_file()), None)
