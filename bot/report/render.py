"""Write a report in the asked formats: md, html (charts embedded), pdf (charts embedded), xlsx
(one sheet per table), csv (one file per table); the charts are also written as PNG files."""

from __future__ import annotations

import base64
import csv
import html
import re
from collections.abc import Sequence
from pathlib import Path

from bot.report import texts as t
from bot.report.charts import charts as make_charts
from bot.report.compose import Report
from bot.report.tables import Table, tables

FORMATS = ("md", "html", "pdf", "xlsx", "csv")
DEFAULT_FORMATS = ("html", "xlsx")


class RenderError(Exception):
    """The report could not be written (a folder that cannot be written): one clear line."""


def stem(r: Report) -> str:
    parts = ["bao-cao", r.period.key.replace("..", "_")]
    if r.period.official:
        parts.append("chinh-thuc")
    if r.commune:
        parts.append(r.commune)
    return "-".join(parts)


def preamble(r: Report) -> list[str]:
    """The sentences before the tables."""
    lines = [t.INTRO.format(span=r.period.span())]
    if r.period.official:
        lines.append(t.OFFICIAL)
    if r.partial:
        lines.append(t.PARTIAL.format(until=f"{r.generated_at:%H:%M} ngày {r.generated_at:%d/%m/%Y}"))
    if r.include_cli:
        lines.append(t.WITH_CLI)
    if not r.numbers.questions:
        lines.append(t.EMPTY)
    return lines


def footer(r: Report) -> list[str]:
    quiz_note = [t.QUIZ_NOTE] if r.quiz()["rounds"] else []
    return [t.PRIVACY, *quiz_note, t.GENERATED.format(at=f"{r.generated_at:%H:%M ngày %d/%m/%Y}")]


def _cell(v: object) -> str:
    return str(v)


def to_markdown(r: Report, tabs: Sequence[Table], chart_files: dict[str, str]) -> str:
    out = [f"# {r.title()}", ""] + [line + "\n" for line in preamble(r)]
    for tab in tabs:
        out += [f"## {tab.title}", ""]
        if tab.rows:
            out.append("| " + " | ".join(tab.headers) + " |")
            out.append("|" + "---|" * len(tab.headers))
            out += ["| " + " | ".join(_cell(c).replace("|", "\\|") for c in row) + " |" for row in tab.rows]
        else:
            out.append(t.NONE)
        if tab.chart and tab.chart in chart_files:
            out += ["", f"![{tab.title}]({chart_files[tab.chart]})"]
        out.append("")
    out += [line + "\n" for line in footer(r)]
    return "\n".join(out)


_CSS = """body{font-family:"Times New Roman",serif;max-width:60rem;margin:2rem auto;color:#111;line-height:1.4}
h1{text-align:center;font-size:1.4rem;text-transform:uppercase}h2{font-size:1.1rem;margin-top:1.6rem}
.head{display:flex;justify-content:space-between;font-weight:bold;font-size:.85rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}td,th{border:1px solid #999;padding:.2rem .45rem}
th{background:#eef2f7}td.n{text-align:right}img{max-width:100%;display:block;margin:.5rem auto}
.note{font-size:.85rem;color:#444}"""


def to_html(r: Report, tabs: Sequence[Table], pngs: dict[str, bytes]) -> str:
    e = html.escape
    out = ["<!doctype html>", '<html lang="vi"><head><meta charset="utf-8">', f"<title>{e(r.title())}</title>",
           f"<style>{_CSS}</style></head><body>",
           f'<div class="head"><span>{e(t.HEADER_AGENCY)}</span><span>{e(t.HEADER_MOTTO)}</span></div>',
           f"<h1>{e(r.title())}</h1>"]
    out += [f"<p>{e(line)}</p>" for line in preamble(r)]
    for tab in tabs:
        out.append(f"<h2>{e(tab.title)}</h2>")
        if tab.rows:
            out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in tab.headers) + "</tr>")
            for row in tab.rows:
                out.append("<tr>" + "".join(
                    f'<td class="n">{e(_cell(c))}</td>' if isinstance(c, int | float) else f"<td>{e(_cell(c))}</td>"
                    for c in row) + "</tr>")
            out.append("</table>")
        else:
            out.append(f"<p>{t.NONE}</p>")
        if tab.chart and tab.chart in pngs:
            data = base64.b64encode(pngs[tab.chart]).decode()
            out.append(f'<img alt="{e(tab.title)}" src="data:image/png;base64,{data}">')
    out += [f'<p class="note">{e(line)}</p>' for line in footer(r)]
    out.append("</body></html>")
    return "\n".join(out)


def write_xlsx(path: Path, r: Report, tabs: Sequence[Table]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for tab in tabs:
        ws = wb.create_sheet(tab.name[:31])
        ws.append([tab.title])
        ws["A1"].font = Font(bold=True)
        ws.append(list(tab.headers))
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for row in tab.rows:
            ws.append(list(row))
        for col, width in zip("ABCD", (48, 14, 14, 14), strict=False):
            ws.column_dimensions[col].width = width
    wb.properties.title = r.title()
    wb.save(path)


def write_csv(folder: Path, base: str, tabs: Sequence[Table]) -> list[Path]:
    paths = []
    for tab in tabs:
        path = folder / f"{base}-{tab.name}.csv"
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel opens it as UTF-8
            w = csv.writer(fh)
            w.writerow(tab.headers)
            w.writerows(tab.rows)
        paths.append(path)
    return paths


_NON_BMP = re.compile(r"[\U00010000-\U0010FFFF]\s?")


def _pdf_text(s: object) -> str:
    return _NON_BMP.sub("", str(s))  # emoji: not in DejaVu Sans


def write_pdf(path: Path, r: Report, tabs: Sequence[Table], pngs: dict[str, bytes]) -> None:
    import io

    import matplotlib
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdf = FPDF(format="A4")
    pdf.set_margins(18, 15, 15)
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_title(r.title())
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 8)
    pdf.cell(0, 5, t.HEADER_AGENCY, new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, t.HEADER_MOTTO, new_x="LMARGIN", new_y="NEXT", align="R")
    pdf.ln(3)
    pdf.set_font("DejaVu", "B", 13)
    pdf.multi_cell(0, 7, r.title().upper(), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("DejaVu", "", 10)
    for line in preamble(r):
        pdf.multi_cell(0, 5.5, line, new_x="LMARGIN", new_y="NEXT")
    for tab in tabs:
        pdf.ln(2)
        pdf.set_font("DejaVu", "B", 11)
        pdf.multi_cell(0, 6, tab.title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 9)
        if tab.rows:
            widths = (60, 20, 20, 20, 20)[: len(tab.headers)] if tab.headers[0] != "#" else (8, 72, 20)
            with pdf.table(col_widths=widths, text_align="LEFT", line_height=5,
                           headings_style=FontFace(emphasis="BOLD", fill_color=(238, 242, 247))) as table:
                table.row([_pdf_text(h) for h in tab.headers])
                for row in tab.rows:
                    table.row([_pdf_text(c) for c in row])
        else:
            pdf.cell(0, 5, t.NONE, new_x="LMARGIN", new_y="NEXT")
        if tab.chart and tab.chart in pngs:
            pdf.image(io.BytesIO(pngs[tab.chart]), w=150, x=(pdf.w - 150) / 2)
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 8)
    for line in footer(r):
        pdf.multi_cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def write_report(r: Report, folder: Path, formats: Sequence[str]) -> list[Path]:
    """Write the report's files into `folder` (created); returns the paths, in order."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".trolyso-write-test"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise RenderError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
    base = stem(r)
    tabs = tables(r)
    pngs = make_charts(r) if set(formats) & {"md", "html", "pdf", "xlsx", "csv"} else {}
    written: list[Path] = []
    chart_files: dict[str, str] = {}
    try:
        for name, data in pngs.items():
            p = folder / f"{base}-bieu-do-{name}.png"
            p.write_bytes(data)
            chart_files[name] = p.name
            written.append(p)
        for fmt in formats:
            if fmt == "md":
                p = folder / f"{base}.md"
                p.write_text(to_markdown(r, tabs, chart_files), encoding="utf-8")
                written.append(p)
            elif fmt == "html":
                p = folder / f"{base}.html"
                p.write_text(to_html(r, tabs, pngs), encoding="utf-8")
                written.append(p)
            elif fmt == "xlsx":
                p = folder / f"{base}.xlsx"
                write_xlsx(p, r, tabs)
                written.append(p)
            elif fmt == "csv":
                written += write_csv(folder, base, tabs)
            elif fmt == "pdf":
                p = folder / f"{base}.pdf"
                write_pdf(p, r, tabs, pngs)
                written.append(p)
    except OSError as exc:
        raise RenderError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
    return written
