"""The font every figure is drawn in: Noto Sans CJK SC, brought by `pip install` (mplfonts).

Matplotlib's default font (DejaVu Sans) has no CJK glyphs, so Chinese labels would render as
empty boxes, and differently on every machine depending on what fonts it has. The project
therefore draws with one font file that the package's dependencies install: Noto Sans CJK SC
(SIL Open Font License 1.1) from the `mplfonts` wheel. It covers Chinese and Latin text, so
a figure looks the same on a fresh machine as here. Only the file is used: mplfonts' own
set-up (which rewrites matplotlib's configuration) is not run.

A missing font file is an error (`FontMissing`), not a quiet fall-back to boxes.
"""

from __future__ import annotations

import base64
import io
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sim.errors import SrdiError

FAMILY = "Noto Sans CJK SC"
_FILE = "NotoSansCJKsc-Regular.otf"


class FontMissing(SrdiError):
    """The CJK font file the figures need is not installed."""


@cache
def font_path() -> Path:
    """The installed Noto Sans CJK SC file, registered with matplotlib's font manager."""
    from matplotlib import font_manager

    try:
        path = Path(str(resources.files("mplfonts") / "fonts" / _FILE))
    except ModuleNotFoundError as e:
        raise FontMissing(
            "the figures need the package 'mplfonts' (it brings the CJK font Noto Sans CJK SC); "
            "install the project with `pip install -e .`"
        ) from e
    if not path.is_file():
        raise FontMissing(f"{path}: expected the font file {_FILE} of mplfonts, found nothing")
    font_manager.fontManager.addfont(str(path))
    return path


def rc() -> dict[str, Any]:
    """Matplotlib settings that draw text in the CJK font (DejaVu Sans as a glyph fallback)."""
    font_path()
    return {
        # the families by name, not "sans-serif": a text keeps them when drawn later, outside
        # this context (a notebook draws after the cell that made the figure)
        "font.family": [FAMILY, "DejaVu Sans"],
        "axes.unicode_minus": False,  # the ASCII hyphen-minus: no glyph lookup for U+2212
        "svg.fonttype": "path",
    }


@contextmanager
def cjk():
    """Draw (create and save) figures inside this block with the CJK font."""
    import matplotlib.pyplot as plt

    with plt.rc_context(rc()):
        yield


def font_face(text: str, family: str) -> str:
    """A CSS @font-face rule named `family` with the CJK font cut to the characters of `text`
    (embedded as a data URI: about 100 KB for a page of Chinese, where the whole font is 16 MB).
    A page using it shows Chinese on a machine without any Chinese font, and fetches nothing."""
    from fontTools import subset

    options = subset.Options()
    options.notdef_outline = True
    options.layout_features = ["*"]
    font = subset.load_font(str(font_path()), options)
    cutter = subset.Subsetter(options)
    cutter.populate(text="".join(sorted(set(text))))
    cutter.subset(font)
    buf = io.BytesIO()
    subset.save_font(font, buf, options)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'@font-face {{ font-family: "{family}"; '
        f'src: url(data:font/otf;base64,{data}) format("opentype"); }}\n'
    )
