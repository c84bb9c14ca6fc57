"""A generated stylesheet without the rule templates one document cannot fire (see gates.py).

Works on the generated text, whose layout codegen.py fixes: a rule template starts on a line of
its own carrying its gates and ends at the first line after it that closes an xsl:template
(its body holds only xsl:if, xsl:variable and xsl:call-template lines).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from lxml import etree

from harness.validators.schematron.gates import GATES_ATTRIBUTE, Gate, decode, unmet

_GATES = re.compile(rf' {re.escape(GATES_ATTRIBUTE)}="([^"]*)"')


@dataclass(frozen=True)
class Segment:
    start: int  # first line of the rule template
    end: int  # one past its last line
    gates: frozenset[Gate]


class Pruner:
    """Splits one generated stylesheet once; gives the text for each document shape."""

    def __init__(self, xslt: str) -> None:
        self.lines = xslt.split("\n")
        self.segments = _segments(self.lines)
        self.gates: frozenset[Gate] = frozenset().union(*(s.gates for s in self.segments))

    def dropped(self, root: etree._Element) -> frozenset[int]:
        """The rule templates (segment numbers) this document cannot fire."""
        if not self.segments:
            return frozenset()
        missing = unmet(root, self.gates)
        return frozenset(n for n, s in enumerate(self.segments) if s.gates & missing)

    def text(self, dropped: frozenset[int]) -> str:
        skip: set[int] = set()
        for number in dropped:
            segment = self.segments[number]
            skip.update(range(segment.start, segment.end))
        return "\n".join(line for n, line in enumerate(self.lines) if n not in skip)


def _segments(lines: list[str]) -> tuple[Segment, ...]:
    found: list[Segment] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _GATES.search(line) if line.startswith("<xsl:template ") else None
        if match is None:
            index += 1
            continue
        end = index
        while end < len(lines) and not lines[end].endswith("</xsl:template>"):
            end += 1
        if end == len(lines):
            return ()  # not the layout this module knows: prune nothing rather than guess
        found.append(Segment(index, end + 1, decode(html.unescape(match.group(1)))))
        index = end + 1
    return tuple(found)


__all__ = ["Pruner", "Segment"]
