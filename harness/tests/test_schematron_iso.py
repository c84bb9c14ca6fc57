"""ISO Schematron scoping and schema errors in kcert's compiler; SVRL; subordinate documents.

Each rule has a case that fires and one that stays quiet; each ISO schema error must name the
file and line it is at. Schemas here are written one element per line so lines are telling.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.validators.api import ValidatorContext
from harness.validators.schematron import (
    ART_DECOR,
    CROSS_PATTERN_EXTENDS,
    REBIND_RULE_LETS,
    CompiledSchematron,
    SchematronError,
    SchematronRunError,
    SchematronValidator,
    compile_schematron,
)
from harness.validators.schematron.conformance import Case, CaseError, materialise
from harness.validators.schematron.svrl import SVRL_NS

SCH_NS = "http://purl.oclc.org/dsdl/schematron"
SVRL = {"svrl": SVRL_NS}

Make = Callable[..., CompiledSchematron]


def lines(*body: str, binding: str = "xslt2", extra: str = "") -> str:
    """A schema, one given line per line: line 1 is the schema element."""
    return "\n".join(
        [f'<schema xmlns="{SCH_NS}" queryBinding="{binding}"{extra}>', *body, "</schema>"]
    )


@pytest.fixture
def make(tmp_path: Path) -> Make:
    def build(
        text: str,
        phase: str | None = None,
        files: dict[str, str] | None = None,
        leniency: frozenset[str] = frozenset(),
    ) -> CompiledSchematron:
        for name, content in (files or {}).items():
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        main = tmp_path / "main.sch"
        main.write_text(text, encoding="utf-8")
        return compile_schematron(main, phase, cache_dir=tmp_path / "cache", leniency=leniency)

    return build


def ids(compiled: CompiledSchematron, xml: str) -> list[str]:
    return [
        f.rule_id for f in compiled.iter_findings(xml.encode("utf-8"), ValidatorContext("t.xml"))
    ]


# -- scopes ------------------------------------------------------------------------------------


def test_a_pattern_variable_is_global(make: Make) -> None:
    c = make(
        lines(
            '<pattern><let name="limit" value="count(//i)"/>',
            '<rule context="/"><assert id="p1" test="true()">x</assert></rule></pattern>',
            '<pattern><rule context="a">',
            '<assert id="few" test="count(//i) = $limit and $limit &lt; 3">many</assert>',
            "</rule></pattern>",
            # a rule context (an XSLT pattern) may read it too: it is a global variable
            '<pattern><rule context="a[count(i) = $limit]">',
            '<report id="all-here" test="true()">all</report></rule></pattern>',
        )
    )
    assert ids(c, "<r><a/><i/></r>") == []
    assert ids(c, "<r><a/><i/><i/><i/></r>") == ["few"]
    assert ids(c, "<a><i/></a>") == ["all-here"]


def test_a_phase_variable_takes_precedence_over_a_schema_variable(make: Make) -> None:
    text = lines(
        '<let name="want" value="\'schema\'"/>',
        '<let name="echo" value="$want"/>',
        '<phase id="p"><let name="want" value="\'phase\'"/><active pattern="x"/></phase>',
        '<pattern id="x"><rule context="a">',
        '<assert id="W" test="@v = $want and @v = $echo">w</assert>',
        "</rule></pattern>",
    )
    assert ids(make(text), '<a v="schema"/>') == []  # no phase: the schema's value
    assert ids(make(text), '<a v="phase"/>') == ["W"]
    in_phase = make(text, "p")
    # the phase's definition replaces the schema's everywhere, other variables included
    assert ids(in_phase, '<a v="phase"/>') == []
    assert ids(in_phase, '<a v="schema"/>') == ["W"]


def test_a_rule_variable_shadows_a_global_one_and_abstract_rules_see_it(make: Make) -> None:
    c = make(
        lines(
            '<let name="v" value="\'global\'"/>',
            "<rules>",
            '<rule abstract="true" id="uses-v"><assert id="V" test="@n = $v">n</assert></rule>',
            "</rules>",
            '<pattern><rule context="a"><let name="v" value="\'local\'"/>',
            '<extends rule="uses-v"/></rule>',
            '<rule context="b"><extends rule="uses-v"/></rule></pattern>',
        )
    )
    assert ids(c, '<r><a n="local"/><b n="global"/></r>') == []
    assert ids(c, '<r><a n="global"/><b n="local"/></r>') == ["V", "V"]


def test_let_element_content_is_data_not_xslt(make: Make) -> None:
    c = make(
        lines(
            '<ns prefix="h" uri="urn:h"/>',
            '<let name="xsl"><xsl:element xmlns:xsl="http://www.w3.org/1999/XSL/Transform"'
            ' name=""/></let>',
            '<pattern><let name="para"><h:p xmlns:h="urn:h">a &lt; b</h:p></let>',
            '<rule context="a"><let name="codes"><c>1</c><c>2</c></let>',
            '<assert id="data" test="count($para/self::h:p) = 1 and $para = \'a &lt; b\''
            " and local-name($xsl) = 'element' and @c = $codes\">c</assert>",
            "</rule></pattern>",
        )
    )
    assert ids(c, '<a c="2"/>') == []
    assert ids(c, '<a c="3"/>') == ["data"]
    assert "parse-xml-fragment" in c.xslt and "<xsl:element name=" not in c.xslt


# -- ISO schema errors, each at file:line -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where", "says"),
    [
        (  # two in one rule
            [
                '<pattern><rule context="a">',
                '<let name="x" value="1"/>',
                '<let name="x" value="2"/>',
                '<assert test="$x">x</assert></rule></pattern>',
            ],
            "main.sch:4",
            "$x is defined twice in rule context='a' (first at main.sch:3)",
        ),
        (  # a schema and a pattern variable share the global scope
            [
                '<let name="x" value="1"/>',
                '<pattern><let name="x" value="2"/>',
                '<rule context="a"><assert test="$x">x</assert></rule></pattern>',
            ],
            "main.sch:3",
            "$x is defined twice in the global scope",
        ),
        (  # two in one phase
            [
                '<phase id="p">',
                '<let name="x" value="1"/>',
                '<let name="x" value="2"/>',
                "</phase>",
                '<pattern><rule context="a"><assert test="true()">x</assert></rule></pattern>',
            ],
            "main.sch:4",
            "$x is defined twice in phase 'p'",
        ),
        (
            ['<pattern><rule context="a">', '<assert test="$nowhere">x</assert></rule></pattern>'],
            "main.sch:3",
            "assert reads $nowhere, defined nowhere in scope",
        ),
        (  # in a message: name/@path and value-of count as references
            [
                '<pattern><rule context="a">',
                '<report test="true()"><name path="$nowhere"/></report></rule></pattern>',
            ],
            "main.sch:3",
            "report reads $nowhere",
        ),
        (  # a rule variable is not visible in another rule
            [
                '<pattern><rule context="a"><let name="mine" value="1"/>',
                '<assert test="$mine">x</assert></rule>',
                '<rule context="b">',
                '<let name="other" value="$mine"/>',
                '<assert test="$other">x</assert></rule></pattern>',
            ],
            "main.sch:5",
            "variable reads $mine",
        ),
        (
            [
                "<pattern>",
                '<rule context="a[$nowhere]"><assert test="1">x</assert></rule>',
                "</pattern>",
            ],
            "main.sch:3",
            "rule context reads $nowhere",
        ),
        (  # the abstract rule's read is checked where it is extended
            [
                '<pattern><rule abstract="true" id="abs">',
                '<assert test="$v">x</assert></rule>',
                '<rule context="a"><extends rule="abs"/></rule></pattern>',
            ],
            "main.sch:3",
            "$v, read in abstract rule 'abs', is defined nowhere in scope of rule context='a'",
        ),
        (
            [
                '<pattern><rule id="concrete" context="a"><assert test="1">x</assert></rule>',
                '<rule context="b">',
                '<extends rule="concrete"/></rule></pattern>',
            ],
            "main.sch:4",
            "extends rule 'concrete', which is not abstract",
        ),
        (
            [
                '<pattern><rule context="b">',
                '<extends rule="nope"/></rule></pattern>',
            ],
            "main.sch:3",
            "extends unknown rule 'nope'",
        ),
        (
            [
                "<pattern>",
                '<rule abstract="true" id="abs"><assert test="1">x</assert></rule>',
                "</pattern>",
                '<pattern><rule context="b">',
                '<extends rule="abs"/></rule></pattern>',
            ],
            "main.sch:6",
            "extends abstract rule 'abs' of pattern 'pattern-1' (main.sch:3)",
        ),
    ],
    ids=[
        "rule-let-twice",
        "global-let-twice",
        "phase-let-twice",
        "undefined-in-test",
        "undefined-in-name-path",
        "rule-let-of-another-rule",
        "undefined-in-context",
        "undefined-in-abstract-rule",
        "extends-concrete-rule",
        "extends-unknown-rule",
        "extends-across-patterns",
    ],
)
def test_iso_schema_errors_name_file_and_line(
    make: Make, body: list[str], where: str, says: str
) -> None:
    with pytest.raises(SchematronError) as caught:
        make(lines(*body))
    message = str(caught.value)
    assert message.startswith(f"{where}: "), message
    assert says in message, message


def test_an_error_in_an_included_file_names_that_file(make: Make) -> None:
    part = "\n".join(
        [
            f'<rule xmlns="{SCH_NS}" context="a">',
            '<let name="x" value="1"/>',
            '<let name="x" value="2"/>',
            '<assert test="$x">x</assert></rule>',
        ]
    )
    with pytest.raises(SchematronError, match=r"^parts/rule\.sch:3: variable \$x is defined twice"):
        make(
            lines('<pattern><include href="parts/rule.sch"/></pattern>'),
            files={"parts/rule.sch": part},
        )


def test_the_ok_variants_of_the_errors_compile(make: Make) -> None:
    c = make(
        lines(
            '<let name="x" value="1"/>',
            '<phase id="p"><let name="x" value="2"/><active pattern="q"/></phase>',
            '<pattern id="q"><rule abstract="true" id="abs">',
            '<assert id="A" test="$x = 1">a</assert></rule>',
            '<rule context="a"><let name="x" value="1"/><extends rule="abs"/></rule>',
            '<rule context="b"><let name="x" value="1"/><extends rule="abs"/></rule></pattern>',
        )
    )
    assert ids(c, "<r><a/><b/></r>") == [] and c.warnings == ()


# -- the named leniencies (MedCom's ART-DECOR packs need both) --------------------------------

_REBOUND = lines(
    '<pattern><rule context="a">',
    '<let name="v" value="@low"/>',
    '<assert id="low" test="$v = \'1\'">low <value-of select="$v"/></assert>',
    '<let name="v" value="@high"/>',
    '<assert id="high" test="$v = \'2\'">high <value-of select="$v"/></assert>',
    "</rule></pattern>",
)
_CROSSED = lines(
    '<pattern><rule abstract="true" id="abs"><assert id="A" test="@ok">a</assert></rule>',
    "</pattern>",
    '<pattern><rule context="a"><extends rule="abs"/></rule></pattern>',
)


def test_rebinding_a_rule_variable_is_an_error_unless_tolerated(make: Make) -> None:
    with pytest.raises(SchematronError, match=r"^main\.sch:5: variable \$v is defined twice"):
        make(_REBOUND)
    c = make(_REBOUND, leniency=frozenset({REBIND_RULE_LETS}))
    # each expression sees the newest definition before it
    assert ids(c, '<a low="1" high="2"/>') == []
    assert [f.message for f in c.run(b'<a low="2" high="1"/>')] == ["low 2", "high 1"]
    (warning,) = c.warnings
    assert warning.startswith("main.sch:2: rule context='a' defines $v more than once")
    assert REBIND_RULE_LETS in warning


def test_extending_across_patterns_is_an_error_unless_tolerated(make: Make) -> None:
    with pytest.raises(SchematronError, match=r"^main\.sch:4: .*of pattern 'pattern-1'"):
        make(_CROSSED)
    with pytest.raises(SchematronError):  # one leniency does not imply the other
        make(_CROSSED, leniency=frozenset({REBIND_RULE_LETS}))
    c = make(_CROSSED, leniency=frozenset({CROSS_PATTERN_EXTENDS}))
    assert ids(c, '<a ok="1"/>') == [] and ids(c, "<a/>") == ["A"]
    (warning,) = c.warnings
    assert "1 extends in other patterns" in warning and "main.sch:4" in warning


def test_leniency_does_not_excuse_other_errors(make: Make) -> None:
    with pytest.raises(SchematronError, match="global scope"):
        make(
            lines(
                '<let name="x" value="1"/>',
                '<let name="x" value="1"/>',
                '<pattern><rule context="a"><assert test="$x">x</assert></rule></pattern>',
            ),
            leniency=ART_DECOR,
        )
    with pytest.raises(ValueError, match="unknown schematron leniency"):
        make(_CROSSED, leniency=frozenset({"anything-goes"}))


def test_packs_are_compiled_with_the_art_decor_leniency(tmp_path: Path) -> None:
    (tmp_path / "r.sch").write_text(_REBOUND, encoding="utf-8")
    strict = SchematronValidator(tmp_path, mapping={"": ("r.sch",)}, cache_dir=tmp_path / "c")
    with pytest.raises(SchematronError):
        strict.compiled("r.sch")
    lenient = SchematronValidator(
        tmp_path, mapping={"": ("r.sch",)}, cache_dir=tmp_path / "c", leniency=ART_DECOR
    )
    assert lenient.compiled("r.sch").warnings


# -- subordinate documents (pattern/@documents) --------------------------------------------------

_SUBORDINATE = lines(
    '<let name="suffix" value="\'.xml\'"/>',
    '<pattern documents="for $n in /list/@names return concat(tokenize($n)[1], $suffix)">',
    '<rule context="/part"><assert id="part-ok" test="@ok">part</assert></rule>',
    "</pattern>",
    '<pattern><rule context="/list"><assert id="list" test="@names">names</assert></rule>',
    "</pattern>",
)


def test_pattern_documents_are_validated_instead_of_the_document(
    make: Make, tmp_path: Path
) -> None:
    c = make(_SUBORDINATE)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.xml").write_text('<part ok="1"/>', encoding="utf-8")
    (docs / "bad.xml").write_text("<part/>\n", encoding="utf-8")
    (docs / "main.xml").write_text('<list names="good"/>', encoding="utf-8")
    assert list(c.iter_findings(docs / "main.xml")) == []
    (docs / "main.xml").write_text('<list names="bad"/>', encoding="utf-8")
    (finding,) = list(c.iter_findings(docs / "main.xml", ValidatorContext("main.xml")))
    assert finding.rule_id == "part-ok"
    assert finding.location.evidence == "bad.xml" and finding.location.path == "/part[1]"
    assert finding.location.line == 1
    report = c.svrl(docs / "main.xml")
    assert report.xpath("//svrl:active-pattern/@documents", namespaces=SVRL)[0].endswith("bad.xml")
    # bytes have no location: a relative name cannot be resolved, which is an error
    with pytest.raises(SchematronRunError, match="no location"):
        c.run(b'<list names="bad"/>')
    assert ids(c, "<list/>") == ["list"]  # nothing named: nothing to read


@pytest.mark.parametrize(
    ("names", "content", "says"),
    [
        ("missing", None, "cannot be read"),
        (
            "hostile",
            '<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><part>&x;</part>',
            "DTD",
        ),
        ("broken", "<part>", "not well-formed"),
        ("../../outside", None, "lies outside"),
        ("http://127.0.0.1:9/x", None, "no network"),
    ],
)
def test_an_unloadable_subordinate_document_is_an_error(
    make: Make, tmp_path: Path, names: str, content: str | None, says: str
) -> None:
    c = make(_SUBORDINATE)
    docs = tmp_path / "docs"
    docs.mkdir()
    if content is not None:
        (docs / f"{names}.xml").write_text(content, encoding="utf-8")
    (docs / "main.xml").write_text(f'<list names="{names}"/>', encoding="utf-8")
    with pytest.raises(SchematronRunError, match=says):
        c.run(docs / "main.xml")


# -- SVRL ----------------------------------------------------------------------------------------


def test_svrl_report_describes_the_run(make: Make) -> None:
    c = make(
        lines(
            "<title>T</title>",
            '<pattern id="p"><title>P</title><rule id="r" context="a" role="warning">',
            '<assert id="need-b" test="b" diagnostics="d" properties="q" xml:lang="da">',
            'a needs b, has <value-of select="count(*)"/></assert>',
            '<report test="c">{c}</report></rule></pattern>',
            '<diagnostics><diagnostic id="d" xml:lang="en">at <name/></diagnostic></diagnostics>',
            '<properties><property id="q" role="copy"><xsl:copy-of'
            ' xmlns:xsl="http://www.w3.org/1999/XSL/Transform" select="."/></property>',
            "</properties>",
        )
    )
    quiet = c.svrl(b"<a><b/></a>")
    assert quiet.tag == f"{{{SVRL_NS}}}schematron-output" and quiet.get("title") == "T"
    assert quiet.xpath("svrl:active-pattern/@id", namespaces=SVRL) == ["p"]
    assert quiet.xpath("svrl:fired-rule/@id", namespaces=SVRL) == ["r"]
    assert not quiet.xpath("svrl:failed-assert|svrl:successful-report", namespaces=SVRL)
    loud = c.svrl(b"<a><c/></a>")
    (failed,) = loud.xpath("svrl:failed-assert", namespaces=SVRL)
    assert failed.get("location") == "/Q{}a[1]" and failed.get("id") == "need-b"
    assert failed.get("{http://www.w3.org/XML/1998/namespace}lang") == "da"
    assert failed.xpath("string(svrl:text)", namespaces=SVRL) == "a needs b, has 1"
    diagnostic = failed.xpath("svrl:diagnostic-reference/svrl:text", namespaces=SVRL)[0]
    assert diagnostic.text == "at a"
    assert failed.xpath("svrl:property-reference[@role='copy']/svrl:text/a/c", namespaces=SVRL)
    (report,) = loud.xpath("svrl:successful-report", namespaces=SVRL)
    assert report.get("test") == "c" and report.xpath("string(svrl:text)", namespaces=SVRL) == "{c}"


@pytest.mark.parametrize("name", ["../escape.xml", "/etc/x.xml", "kcert-case-schema.sch"])
def test_conformance_case_files_stay_in_their_folder(tmp_path: Path, name: str) -> None:
    case = Case("c", tmp_path / "c.xml", "", "valid", (), None, b"<x/>", ((name, b"<d/>"),), ())
    with pytest.raises(CaseError, match="not a plain relative path"):
        materialise(case, tmp_path / "case")
    assert not (tmp_path / "escape.xml").exists()
