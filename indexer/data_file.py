"""The common part of the admins' YAML data files (quiz.yaml, contests.yaml, communes.yaml):
UTF-8, YAML syntax, a mapping with `version: 1`, and the list under one key. Every problem is
reported as a `file:line` issue through `err`, like the FAQ's (indexer/faq.py); the callers then
check the list's items."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from indexer.faq import _scalar

Report = Callable[[int, str], None]


def top_list(path: Path, key: str, what: str, err: Report) -> yaml.SequenceNode | None:
    """The YAML node of the list under `key`, or None (empty, or an issue was reported)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        err(0, f"cannot read file: {exc.strerror or exc}")
        return None
    except UnicodeDecodeError as exc:
        err(path.read_bytes()[: exc.start].count(b"\n") + 1, "file is not valid UTF-8")
        return None
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        err(mark.line + 1 if mark else 0, f"invalid YAML: {getattr(exc, 'problem', None) or exc}")
        return None
    if root is None:
        return None
    if not isinstance(root, yaml.MappingNode):
        err(root.start_mark.line + 1, f"the file must be a mapping with `version: 1` and `{key}:`")
        return None
    top = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    version = top.get("version")
    if version is not None and _scalar(version) != 1:
        err(version.start_mark.line + 1, f"unsupported version {_scalar(version)!r} (expected 1)")
    items = top.get(key)
    if items is None or (isinstance(items, yaml.ScalarNode) and _scalar(items) is None):
        return None
    if not isinstance(items, yaml.SequenceNode):
        err(items.start_mark.line + 1, f"`{key}` must be a list of {what}")
        return None
    return items
