"""A parser for Fluentd's configuration syntax, enough to check fluentd/fluent.conf.

The syntax: ``<name argument>`` opens a directive (``<source>``, ``<match tag>``,
``<label @ERROR>``, nested ``<parse>``/``<buffer>``/``<format>``/``<store>``...),
``</name>`` closes it, and every other non-comment line is ``key value``. Values may be
double-quoted (with embedded ``#{...}`` Ruby, kept verbatim); ``#`` starts a comment
outside quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_OPEN = re.compile(r"^<\s*([A-Za-z_@][\w@.-]*)\s*([^>]*?)\s*>$")
_CLOSE = re.compile(r"^</\s*([A-Za-z_@][\w@.-]*)\s*>$")


class FluentConfigError(ValueError):
    pass


@dataclass
class Directive:
    name: str
    arg: str = ""
    params: dict[str, str] = field(default_factory=dict)
    children: list[Directive] = field(default_factory=list)

    def find(self, name: str, arg: str | None = None) -> list[Directive]:
        """Direct children with that name (and argument, when given)."""
        return [c for c in self.children if c.name == name and (arg is None or c.arg == arg)]

    def one(self, name: str, arg: str | None = None) -> Directive:
        found = self.find(name, arg)
        if len(found) != 1:
            raise AssertionError(f"<{self.name} {self.arg}> has {len(found)} <{name} {arg or ''}>")
        return found[0]

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def _strip_comment(line: str) -> str:
    in_quotes = False
    for i, ch in enumerate(line):
        if ch == '"' and (i == 0 or line[i - 1] != "\\"):
            in_quotes = not in_quotes
        elif ch == "#" and not in_quotes and (i + 1 >= len(line) or line[i + 1] != "{"):
            return line[:i]
    return line


def _value(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def parse(text: str) -> Directive:
    root = Directive("ROOT")
    stack = [root]
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        if close := _CLOSE.match(line):
            if len(stack) == 1 or stack[-1].name != close.group(1):
                raise FluentConfigError(f"line {number}: unexpected </{close.group(1)}>")
            stack.pop()
        elif opening := _OPEN.match(line):
            directive = Directive(opening.group(1), opening.group(2))
            stack[-1].children.append(directive)
            stack.append(directive)
        else:
            key, _, value = line.partition(" ")
            if key in stack[-1].params:
                raise FluentConfigError(f"line {number}: {key} set twice")
            stack[-1].params[key] = _value(value)
    if len(stack) != 1:
        raise FluentConfigError(f"<{stack[-1].name}> is never closed")
    return root


def load(path: Path) -> Directive:
    return parse(path.read_text())
