"""Files the project writes for people: written whole or not at all, readable by others.

Every verb writes through `write_atomic`: a temporary file in the target's folder, then a
rename, so an interrupted run never leaves a half-written table; the file is mode 0644 (a
shared output, where `mkstemp` would leave 0600). Tables for people (`for_people`) carry the
titles' Chinese names and money in 万元; `write_csv` and `write_xlsx` write them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sim.views.labels import WAN  # yuan in one 万元

if TYPE_CHECKING:  # pandas, numpy and openpyxl load when a table is written: `srdi validate`
    import pandas as pd  # stays quick


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it to `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_figure(path: Path, fig) -> None:
    """A matplotlib figure as a PNG (110 dpi) into `path`, atomically, in the CJK font."""
    from sim.views.fonts import cjk

    with cjk():
        write_atomic(path, lambda p: fig.savefig(p, dpi=110, format="png"))


def write_json(path: Path, obj: object) -> None:
    """`obj` as indented UTF-8 JSON (Chinese kept as it is) into `path`, atomically."""
    import json

    text = json.dumps(obj, ensure_ascii=False, indent=1)
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_text_atomic(path: Path, text: str) -> None:
    """`text` as UTF-8 into `path`, atomically."""
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


# --- tables for people: CSV and Excel -----------------------------------------------------------

# Chinese beside each column id in the workbook's headers ("probability 达成概率"); a column
# not listed keeps its id alone
COLUMNS_ZH = {
    "id": "目标编号",
    "tier": "层级",
    "tier_zh": "层级名称",
    "kind": "目标类型",
    "metric": "口径",
    "lever": "政策工具",
    "year": "年份",
    "value": "目标值",
    "probability": "达成概率",
    "mc_se": "蒙特卡洛标准误",
    "expected": "期望值",
    "mean": "均值",
    "p05": "5%分位数",
    "p50": "中位数",
    "p95": "95%分位数",
    "stretch": "争取值",
    "stretch_probability": "争取值达成概率",
    "probability_without_levers": "无政策时达成概率",
    "source": "出处",
    "mean_wan_yuan": "均值(万元)",
    "p05_wan_yuan": "5%分位数(万元)",
    "p95_wan_yuan": "95%分位数(万元)",
    "whole_programme_cost_per_extra_firm_wan_yuan": "全部措施资金÷增加企业(万元/家)",
    "extra_firms": "增加企业数",
    "lever_cost_wan_yuan": "该措施资金(万元)",
    "marginal_cost_wan_yuan": "关闭该措施节省的总资金(万元)",
    "cost_per_extra_firm_wan_yuan": "该措施资金÷增加企业(万元/家)",
    "target": "目标编号",
    "value_a": "A目标值",
    "value_b": "B目标值",
    "probability_a": "A达成概率",
    "probability_b": "B达成概率",
    "difference": "差值(B−A)",
    "difference_se": "差值标准误",
}


def for_people(df: pd.DataFrame, tier_zh: Mapping[str, str]) -> pd.DataFrame:
    """A result table as people read it: a `tier_zh` column (the title in Chinese) right after
    `tier`, and money in 万元: each `<x>_yuan` column becomes `<x>_wan_yuan` (yuan / 1e4) in
    its place. A tier with no Chinese name (the cultivation pool) gets an empty cell."""
    import pandas as pd

    out = df.copy()
    if "tier" in out.columns:
        names = [tier_zh.get(t, "") for t in out["tier"]]
        out.insert(out.columns.get_loc("tier") + 1, "tier_zh", names)
    renamed = {}
    for col in out.columns:
        if isinstance(col, str) and col.endswith("_yuan") and not col.endswith("_wan_yuan"):
            out[col] = pd.to_numeric(out[col], errors="coerce") / WAN
            renamed[col] = col[: -len("_yuan")] + "_wan_yuan"
    return out.rename(columns=renamed)


def rounded(df: pd.DataFrame) -> pd.DataFrame:
    """Float columns rounded to 6 significant digits (no 331.04999999999995)."""
    import numpy as np

    out = df.copy()
    for col in out.select_dtypes("float").columns:
        x = out[col].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            digits = np.where(x == 0, 0, 5 - np.floor(np.log10(np.abs(x))))
        out[col] = [
            round(v, int(d)) if np.isfinite(v) else v for v, d in zip(x, digits, strict=True)
        ]
    return out


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """A table people open in Excel: UTF-8 with a BOM (so the Chinese shows), numbers rounded
    to 6 significant digits. Write it through `write_atomic`."""
    rounded(df).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")


def write_xlsx(sheets: Mapping[str, pd.DataFrame], path: Path) -> None:
    """One workbook, one sheet per table (sheet names as given, at most 31 characters), the
    headers `id 中文` (COLUMNS_ZH), numbers as in the CSVs. Write it through `write_atomic`."""
    import pandas as pd
    from openpyxl.utils import get_column_letter

    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, df in sheets.items():
            table = rounded(df)
            table.columns = [bilingual(c) for c in table.columns]
            table.to_excel(xl, sheet_name=name, index=False)
            sheet = xl.sheets[name]
            sheet.freeze_panes = "A2"  # the header stays in view
            for k, col in enumerate(table.columns, start=1):
                width = max([_width(col)] + [_width(v) for v in table.iloc[:, k - 1].head(200)])
                sheet.column_dimensions[get_column_letter(k)].width = min(width + 2, 60)


def bilingual(column: str) -> str:
    """A column's header in the workbook: its id and, where known, its Chinese name."""
    zh = COLUMNS_ZH.get(column)
    return f"{column} {zh}" if zh else column


def _width(value: object) -> int:
    """Display width of a cell: a Chinese character is two columns wide."""
    text = str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)
