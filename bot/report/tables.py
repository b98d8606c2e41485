"""The report as tables (one per sheet of the spreadsheet, one CSV file each, one section of the
Markdown, HTML and PDF): the only place that lays out rows, so every format shows the same."""

from __future__ import annotations

from dataclasses import dataclass

from bot.report import texts as t
from bot.report.compose import Report


@dataclass(frozen=True)
class Table:
    name: str  # sheet and file name (ASCII)
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[object, ...]]
    chart: str | None = None  # the chart of this table, if any


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else t.NONE


def _pct(x: float | None) -> str:
    return t.NONE if x is None else f"{100 * x:+.1f}%".replace("+-", "-")


def tables(r: Report) -> list[Table]:
    n = r.numbers
    rate = t.NONE if r.answer_rate is None else f"{100 * r.answer_rate:.1f}%"
    out = [Table("tong_hop", t.SECTION_TOTALS, (t.COL_ITEM, t.COL_COUNT), [
        (t.TOTAL_QUESTIONS, n.questions), (t.TOTAL_CITIZENS, n.citizens), (t.ANSWER_RATE, rate),
        (t.PREVIOUS, r.previous[0]), (t.CHANGE, _pct(r.change))])]
    out.append(Table("ket_qua", t.SECTION_KINDS, (t.COL_ITEM, t.COL_COUNT, t.COL_SHARE),
                     [(t.KIND_LABELS.get(k, k), v, _share(v, n.questions)) for k, v in n.by_kind.items()]))
    out.append(Table("kenh", t.SECTION_CHANNELS, (t.COL_CHANNEL, t.COL_COUNT, t.COL_SHARE),
                     [(t.CHANNEL_LABELS.get(k, k), v, _share(v, n.questions)) for k, v in n.by_channel.items()],
                     chart="channels"))
    cats = r.by_category()
    total_faq = sum(cats.values())
    out.append(Table("linh_vuc", t.SECTION_TOPICS, (t.COL_TOPIC, t.COL_COUNT, t.COL_SHARE),
                     [(r.category_label(k), v, _share(v, total_faq)) for k, v in cats.items()], chart="topics"))
    out.append(Table("xa_phuong", t.SECTION_COMMUNES, (t.COL_COMMUNE, t.COL_COUNT, t.COL_SHARE),
                     [(r.commune_label(k), v, _share(v, n.questions)) for k, v in r.by_commune().items()],
                     chart="communes"))
    out.append(Table("theo_ngay", t.SECTION_DAYS, (t.COL_DAY, t.COL_COUNT), list(n.per_day.items()), chart="days"))
    out.append(Table("theo_gio", t.SECTION_HOURS, (t.COL_HOUR, t.COL_COUNT),
                     [(f"{h:02d}:00–{h:02d}:59", v) for h, v in n.per_hour.items()], chart="hours"))
    out.append(Table("cau_hoi_nhieu", t.SECTION_TOP_FAQ, ("#", t.COL_QUESTION, t.COL_COUNT),
                     [(i, q, c) for i, (_, q, c) in enumerate(r.top_faq(), 1)]))
    out.append(Table("chua_tra_loi", t.SECTION_UNANSWERED, ("#", t.COL_QUESTION, t.COL_CITIZENS),
                     [(i, q, c) for i, (q, c) in enumerate(n.top_unanswered, 1)]))
    out.append(Table("to_cong_nghe_so", t.SECTION_REVIEW, (t.COL_ITEM, t.COL_COUNT),
                     [(t.REVIEW_LABELS.get(k, k), t.NONE if v is None else v) for k, v in n.review.items()]
                     + [(t.HANDOFF_LABELS.get(k, k), t.NONE if v is None else v) for k, v in n.handoff.items()]))
    up, down = r.feedback()
    rows: list[tuple[object, ...]] = [
        (t.DOCUMENTS_TOPIC if k == "tailieu" else r.category_label(k), u, d, _share(u, u + d))
        for k, (u, d) in r.feedback_by_category().items()]
    rows.append((t.TOTAL_QUESTIONS.replace("câu hỏi", "phản hồi"), up, down, _share(up, up + down)))
    out.append(Table("phan_hoi", t.SECTION_FEEDBACK, (t.COL_TOPIC, t.COL_UP, t.COL_DOWN, t.COL_UP_SHARE), rows))
    out.append(Table("cap_nhat_faq", t.SECTION_CHANGES, (t.COL_ITEM, t.COL_COUNT),
                     [(t.CHANGE_LABELS[k], len(v)) for k, v in r.faq_changes.items()]))
    quiz = r.quiz()

    def score(v: dict[str, object]) -> tuple[object, object]:
        avg, pct = v.get("average"), v.get("percent")
        return (t.NONE if avg is None else f"{avg:.2f}", t.NONE if pct is None else f"{pct:.1f}%")

    quiz_rows: list[tuple[object, ...]] = [(r.commune_label(k), v["rounds"], v["participants"], *score(v))
                                           for k, v in quiz["by_commune"].items()]
    quiz_rows.append((t.QUIZ_TOTAL, quiz["rounds"], quiz["participants"], *score(quiz)))
    out.append(Table("cuoc_thi", t.SECTION_QUIZ,
                     (t.COL_COMMUNE, t.COL_ROUNDS, t.COL_PARTICIPANTS, t.COL_AVERAGE, t.COL_RIGHT_SHARE), quiz_rows))
    return out
