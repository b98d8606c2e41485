"""Load and validate the quiz bank (`quiz.yaml`) with file:line messages, like `indexer.faq`.

The format (documented for admins in docs/huong-dan-quan-tri.md):

    version: 1
    questions:
      - id: luadao-otp-1            # a-z, 0-9 and '-', unique
        topic: luadao               # one of the FAQ categories (indexer.faq.CATEGORIES)
        difficulty: 1               # 1 (easy) to 3 (hard)
        question: "..."
        options: ["...", "...", "..."]   # 3 or 4 different texts
        answer: 2                   # the 1-based number of the right option
        explanation: "..."          # one to three sentences
        source: "..."               # where the fact comes from
        faq_id: luadao-ma-otp       # optional: the FAQ entry to read next

`load_quiz` never raises for bad content (see `.issues`); `known_faq_ids` checks `faq_id`.

Contests live in `contests.yaml` next to `quiz.yaml`, validated the same way (`load_contests`):

    version: 1
    contests:
      - id: cds-2027-quy1           # a-z, 0-9 and '-', unique
        title: "Công dân số thông minh, quý I/2027"
        start: 2027-01-04           # first day (local time), inclusive
        end: 2027-03-28             # last day, inclusive
        topics: [luadao, vneid]     # FAQ categories the rounds are drawn from
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from indexer.data_file import top_list
from indexer.faq import CATEGORIES, ID_RE, Issue, _scalar, _text, parse_date
from indexer.text import views

KEYS = ("id", "topic", "difficulty", "question", "options", "answer", "explanation", "source", "faq_id")
REQUIRED = ("id", "topic", "difficulty", "question", "options", "answer", "explanation", "source")
MIN_OPTIONS, MAX_OPTIONS = 3, 4
MAX_SENTENCES = 3
# A sentence ends with . ! ? or … followed by a space and a capital letter (or the end): "1/7/2024",
# "dichvucong.gov.vn" and "5.000" are not ends.
_SENTENCE_END = re.compile(r"[.!?…]+[\"”»)]*(?=\s+[A-ZÀ-Ỹ\"“«(]|\s*$)")


def sentences(text: str) -> int:
    """How many sentences `text` has (an approximation good enough for short explanations)."""
    text = text.strip()
    if not text:
        return 0
    count = len(_SENTENCE_END.findall(text))
    return count if re.search(r"[.!?…][\"”»)]*$", text) else count + 1


@dataclass(frozen=True)
class QuizQuestion:
    id: str
    topic: str
    difficulty: int
    question: str
    options: tuple[str, ...]
    answer: int  # 1-based
    explanation: str
    source: str
    faq_id: str | None = None
    line: int = 0

    @property
    def right_option(self) -> str:
        return self.options[self.answer - 1]


@dataclass
class QuizFile:
    path: Path
    questions: list[QuizQuestion] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    def topics(self) -> dict[str, int]:
        """Questions per topic, in the FAQ categories' order."""
        counts = Counter(q.topic for q in self.questions)
        return {t: counts[t] for t in CATEGORIES if counts[t]}

    def summary(self) -> dict[str, object]:
        """What `trolyso quiz check --json` prints."""
        return {"questions": len(self.questions), "topics": self.topics(), "errors": [str(e) for e in self.errors]}


class QuizError(Exception):
    """A quiz file that cannot be used; carries the file:line issues."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(map(str, issues)))


def load_quiz(path: Path, known_faq_ids: Collection[str] | None = None) -> QuizFile:
    """Parse and validate a quiz file. `known_faq_ids`: when given, a `faq_id` must be one."""
    result = QuizFile(path=path)
    p = str(path)

    def err(line: int, msg: str) -> None:
        result.issues.append(Issue(p, line, msg))

    items = top_list(path, "questions", "questions", err)
    if items is None:
        return result
    for item in items.value:
        question = _question(item, err, known_faq_ids)
        if question is not None:
            result.questions.append(question)
    _check_duplicates(result, err)
    return result


def _int(node: yaml.Node) -> int | None:
    value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


Report = Callable[[int, str], None]


def _question(node: yaml.Node, report: Report, known_faq_ids: Collection[str] | None) -> QuizQuestion | None:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        report(line, "a question must be a mapping with id, topic, question, options, answer...")
        return None
    fields: dict[str, yaml.Node] = {}
    for key, value in node.value:
        name = str(key.value)
        key_line = key.start_mark.line + 1
        if name in fields:
            report(key_line, f"duplicate key `{name}` in one question")
        elif name not in KEYS:
            report(key_line, f"unknown key `{name}`; use: {', '.join(KEYS)}")
        fields[name] = value
    ok = True

    def at(name: str) -> int:
        return fields[name].start_mark.line + 1

    texts: dict[str, str] = {}
    for name in ("id", "topic", "question", "explanation", "source", "faq_id"):
        if name not in fields:
            if name in REQUIRED:
                report(line, f"missing required field `{name}`")
                ok = False
            continue
        v = fields[name]
        value = _text(_scalar(v)) if isinstance(v, yaml.ScalarNode) else None
        if not value:
            report(at(name), f"`{name}` must be a non-empty text")
            ok = False
            continue
        texts[name] = value
    if "id" in texts and not ID_RE.match(texts["id"]):
        report(at("id"), f"id {texts['id']!r} must use only a-z, 0-9 and '-'")
        ok = False
    if "topic" in texts and texts["topic"] not in CATEGORIES:
        report(at("topic"), f"unknown topic {texts['topic']!r}; use one of: {', '.join(CATEGORIES)}")
        ok = False
    if "explanation" in texts and sentences(texts["explanation"]) > MAX_SENTENCES:
        report(at("explanation"), f"the explanation has {sentences(texts['explanation'])} sentences; "
                                  f"keep it to 1-{MAX_SENTENCES}")
        ok = False
    if "faq_id" in texts and known_faq_ids is not None and texts["faq_id"] not in known_faq_ids:
        report(at("faq_id"), f"faq_id {texts['faq_id']!r} is not an entry of the FAQ")
        ok = False

    difficulty = None
    if "difficulty" not in fields:
        report(line, "missing required field `difficulty`")
        ok = False
    else:
        difficulty = _int(fields["difficulty"])
        if difficulty is None or not 1 <= difficulty <= 3:
            report(at("difficulty"), "`difficulty` must be 1, 2 or 3")
            ok = False

    options: list[str] = []
    if "options" not in fields:
        report(line, "missing required field `options`")
        ok = False
    elif not isinstance(fields["options"], yaml.SequenceNode):
        report(at("options"), f"`options` must be a list of {MIN_OPTIONS}-{MAX_OPTIONS} texts")
        ok = False
    else:
        seen: dict[str, int] = {}
        for o in fields["options"].value:
            t = _text(_scalar(o)) if isinstance(o, yaml.ScalarNode) else None
            if not t:
                report(o.start_mark.line + 1, "an option must be a non-empty text")
                ok = False
                continue
            key = views(t).folded
            if key in seen:
                report(o.start_mark.line + 1, f"option {t!r} is the same as option {seen[key]}")
                ok = False
            seen[key] = len(options) + 1
            options.append(t)
        if not MIN_OPTIONS <= len(fields["options"].value) <= MAX_OPTIONS:
            report(at("options"), f"a question needs {MIN_OPTIONS}-{MAX_OPTIONS} options, "
                                  f"got {len(fields['options'].value)}")
            ok = False

    answer = None
    if "answer" not in fields:
        report(line, "missing required field `answer`")
        ok = False
    else:
        answer = _int(fields["answer"])
        if answer is None or not 1 <= answer <= max(len(options), 1):
            report(at("answer"), f"`answer` must be the number of the right option (1-{len(options) or '?'})")
            ok = False
    if not ok or difficulty is None or answer is None:
        return None
    return QuizQuestion(
        id=texts["id"], topic=texts["topic"], difficulty=difficulty, question=texts["question"],
        options=tuple(options), answer=answer, explanation=texts["explanation"], source=texts["source"],
        faq_id=texts.get("faq_id"), line=line,
    )


def _check_duplicates(result: QuizFile, err: Report) -> None:
    ids: dict[str, int] = {}
    texts: dict[str, tuple[str, int]] = {}
    for q in result.questions:
        if q.id in ids:
            err(q.line, f"duplicate id {q.id!r} (first at line {ids[q.id]})")
        else:
            ids[q.id] = q.line
        key = views(q.question).folded
        if key in texts:
            other = texts[key]
            err(q.line, f"question of {q.id!r} is the same as the one of {other[0]!r} (line {other[1]})")
        else:
            texts[key] = (q.id, q.line)


def require_valid(path: Path, known_faq_ids: Collection[str] | None = None) -> list[QuizQuestion]:
    """Questions of a valid quiz file, or QuizError with every error. A missing file is an error."""
    quiz = load_quiz(path, known_faq_ids)
    if quiz.errors:
        raise QuizError(quiz.errors)
    return quiz.questions


# -- contests.yaml ------------------------------------------------------------------------------

CONTEST_KEYS = ("id", "title", "start", "end", "topics")


@dataclass(frozen=True)
class Contest:
    id: str
    title: str
    start: dt.date  # inclusive, local days
    end: dt.date  # inclusive
    topics: tuple[str, ...]
    line: int = 0

    def running(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def weeks(self) -> list[tuple[dt.date, dt.date]]:
        """The contest's weeks: seven days from `start` (the last one may be shorter)."""
        out, day = [], self.start
        while day <= self.end:
            out.append((day, min(day + dt.timedelta(days=6), self.end)))
            day += dt.timedelta(days=7)
        return out


@dataclass
class ContestFile:
    path: Path
    contests: list[Contest] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    def get(self, contest_id: str) -> Contest | None:
        return next((c for c in self.contests if c.id == contest_id), None)

    def running(self, day: dt.date) -> list[Contest]:
        return [c for c in self.contests if c.running(day)]


def contests_path(quiz_path: Path) -> Path:
    """`contests.yaml` lives next to the quiz bank."""
    return quiz_path.with_name("contests.yaml")


def load_contests(path: Path) -> ContestFile:
    """Parse and validate a contests file (file:line issues; a missing file has no contests)."""
    result = ContestFile(path=path)
    p = str(path)

    def err(line: int, msg: str) -> None:
        result.issues.append(Issue(p, line, msg))

    if not path.exists():
        return result
    items = top_list(path, "contests", "contests", err)
    if items is None:
        return result
    seen: dict[str, int] = {}
    for item in items.value:
        contest = _contest(item, err)
        if contest is None:
            continue
        if contest.id in seen:
            err(contest.line, f"duplicate id {contest.id!r} (first at line {seen[contest.id]})")
            continue
        seen[contest.id] = contest.line
        result.contests.append(contest)
    return result


def _contest(node: yaml.Node, report: Report) -> Contest | None:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        report(line, "a contest must be a mapping with id, title, start, end and topics")
        return None
    fields: dict[str, yaml.Node] = {}
    for key, value in node.value:
        name = str(key.value)
        if name in fields:
            report(key.start_mark.line + 1, f"duplicate key `{name}` in one contest")
        elif name not in CONTEST_KEYS:
            report(key.start_mark.line + 1, f"unknown key `{name}`; use: {', '.join(CONTEST_KEYS)}")
        fields[name] = value
    ok = True
    for name in CONTEST_KEYS:
        if name not in fields:
            report(line, f"missing required field `{name}`")
            ok = False
    if not ok:
        return None

    def at(name: str) -> int:
        return fields[name].start_mark.line + 1

    texts: dict[str, str] = {}
    for name in ("id", "title"):
        v = fields[name]
        value = _text(_scalar(v)) if isinstance(v, yaml.ScalarNode) else None
        if not value:
            report(at(name), f"`{name}` must be a non-empty text")
            ok = False
        else:
            texts[name] = value
    if "id" in texts and (not ID_RE.match(texts["id"]) or len(texts["id"]) > 64):
        report(at("id"), f"id {texts['id']!r} must use only a-z, 0-9 and '-' (at most 64 characters)")
        ok = False
    days: dict[str, dt.date] = {}
    for name in ("start", "end"):
        v = fields[name]
        day = parse_date(_scalar(v)) if isinstance(v, yaml.ScalarNode) else None
        if day is None:
            report(at(name), f"`{name}` must be a date like 2027-01-04")
            ok = False
        else:
            days[name] = day
    if len(days) == 2 and days["end"] < days["start"]:
        report(at("end"), f"`end` {days['end']} is before `start` {days['start']}")
        ok = False
    topics: list[str] = []
    if not isinstance(fields["topics"], yaml.SequenceNode) or not fields["topics"].value:
        report(at("topics"), f"`topics` must be a non-empty list of: {', '.join(CATEGORIES)}")
        ok = False
    else:
        for t in fields["topics"].value:
            topic = _text(_scalar(t)) if isinstance(t, yaml.ScalarNode) else None
            if topic not in CATEGORIES:
                report(t.start_mark.line + 1, f"unknown topic {topic!r}; use one of: {', '.join(CATEGORIES)}")
                ok = False
            elif topic not in topics:
                topics.append(topic)
    if not ok:
        return None
    return Contest(id=texts["id"], title=texts["title"], start=days["start"], end=days["end"],
                   topics=tuple(topics), line=line)
