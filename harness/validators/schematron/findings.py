"""Compact result records -> failures -> kcert findings (rule id, severity, readable location)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

from lxml import etree

from harness.model.finding import Finding, Location
from harness.model.outcome import Severity
from harness.validators.schematron.catalogue import AssertionInfo, Catalogue, RuleInfo
from harness.validators.schematron.subdocs import uri_path

# Role/flag words as ART-DECOR, Trifolia and MedCom's own schematrons use them. Warnings never
# block approval (F4, a remark); an unqualified or unknown role counts as an error, because a
# failed assertion is a violation unless the author said otherwise.
SEVERITY_WORDS: dict[str, Severity] = {
    "fatal": Severity.F2,
    "error": Severity.F2,
    "err": Severity.F2,
    "warning": Severity.F4,
    "warn": Severity.F4,
    "info": Severity.OK,
    "information": Severity.OK,
    "informational": Severity.OK,
    "note": Severity.OK,
    "hint": Severity.OK,
}
DEFAULT_SEVERITY = Severity.F2


def severity_of(*words: str) -> Severity:
    """The first role or flag (assertion before rule) that names a known severity."""
    for word in words:
        found = SEVERITY_WORDS.get(word.strip().lower())
        if found is not None:
            return found
    return DEFAULT_SEVERITY


@dataclass(frozen=True)
class Failure:
    """One failed assert or successful report, as SVRL would describe it."""

    assertion: AssertionInfo
    rule: RuleInfo
    path: str
    line: int | None
    message: str
    diagnostics: tuple[tuple[str, str], ...]  # (diagnostic id, text)
    document: str = ""  # URI of the subordinate document the node is in; "" = the document

    @property
    def rule_id(self) -> str:
        """The assertion's id; else its rule's id (#n when the rule has several assertions);
        else its pattern's or abstract rule's id with its position there."""
        a = self.assertion
        if a.id:
            return a.id
        if self.rule.id and a.owner == self.rule.pattern:
            return self.rule.id if a.rule_size == 1 else f"{self.rule.id}#{a.in_rule}"
        return f"{a.owner}#{a.ordinal}"

    @property
    def severity(self) -> Severity:
        a = self.assertion
        return severity_of(a.role, a.flag, self.rule.role, self.rule.flag)

    def to_finding(self, evidence: str) -> Finding:
        text = self.message or f"{self.assertion.kind} failed: {self.assertion.test}"
        extra = "; ".join(t for _, t in self.diagnostics if t)
        if extra:
            text = f"{text} ({extra})"
        if self.document:
            evidence = PurePosixPath(unquote(urlparse(self.document).path)).name or self.document
        return Finding(
            self.rule_id, self.severity, text, Location(self.path, "xpath", self.line, evidence)
        )


_STEP = re.compile(r"^([^\[]+)\[(\d+)\]$")


class LineFinder:
    """Source lines for node paths, found by walking kcert's own lxml tree of the document."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self._memo: dict[str, etree._Element | None] = {}

    @staticmethod
    def _name(element: etree._Element) -> str:
        local = etree.QName(element).localname
        return f"{element.prefix}:{local}" if element.prefix else local

    def element(self, path: str) -> etree._Element | None:
        if path in self._memo:
            return self._memo[path]
        head, _, step = path.rpartition("/")
        found: etree._Element | None = None
        match = _STEP.match(step)
        if step.startswith("@") or (match and match.group(1).endswith("()")):
            found = self.element(head)  # attribute, text, comment: the owner element's line
        elif match:
            name, position = match.group(1), int(match.group(2))
            if not head:
                found = self.root if self._name(self.root) == name and position == 1 else None
            else:
                parent = self.element(head)
                if parent is not None:
                    same = [c for c in parent if isinstance(c.tag, str) and self._name(c) == name]
                    found = same[position - 1] if position <= len(same) else None
        self._memo[path] = found
        return found

    def line(self, path: str) -> int | None:
        if path in ("", "/"):
            return None
        element = self.element(path)
        return element.sourceline if element is not None else None


def read_records(
    text: str,
    catalogue: Catalogue,
    lines: LineFinder,
    others: Mapping[str, LineFinder] | None = None,
) -> list[Failure]:
    """Failures from the records; `others` finds lines in subordinate documents, by URI."""
    failures: list[Failure] = []
    for record in text.split("\n"):
        if not record:
            continue
        fields = record.split("\t")
        assertion = catalogue.assertions[int(fields[0])]
        rule = catalogue.rules[int(fields[1])]
        path = fields[2]
        document = ""
        finder: LineFinder | None = lines
        if not path.startswith("/"):  # "<document URI> <path>": a subordinate document
            document, _, path = path.partition(" ")
            finder = (others or {}).get(uri_path(document))
        message = fields[3] if assertion.dynamic else assertion.message
        diagnostics = tuple(
            (ref, fields[4 + n] if dynamic and 4 + n < len(fields) else static)
            for n, (ref, static, dynamic) in enumerate(assertion.diagnostics)
        )
        line = finder.line(path) if finder is not None else None
        failures.append(Failure(assertion, rule, path, line, message, diagnostics, document))
    return failures
