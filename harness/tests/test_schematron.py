"""kcert's Schematron compiler: ISO features on tiny inline schemas, then the official material.

The corpus tests read ../shared/corpus at run time and skip when it is absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree, isoschematron

from harness.model.outcome import Severity
from harness.safeparse import UnsafePayload
from harness.validators.api import ValidatorContext
from harness.validators.schematron import (
    DOCUMENT_SCHEMATRONS,
    CompiledSchematron,
    SchematronError,
    SchematronRunError,
    SchematronValidator,
    compile_schematron,
    forget_compiled,
    severity_of,
)
from harness.validators.schematron.codegen import cheap_first
from harness.validators.schematron.findings import LineFinder
from harness.validators.schematron.hoist import Hoister
from harness.validators.schematron.selection import PACK_LENIENCY, choose

CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus"
SCH_NS = "http://purl.oclc.org/dsdl/schematron"
SVRL_NS = "http://purl.oclc.org/dsdl/svrl"


def schema(body: str, binding: str = "xslt2", extra: str = "") -> str:
    return (
        f'<schema xmlns="{SCH_NS}" queryBinding="{binding}"{extra}>'
        '<ns prefix="h" uri="urn:hl7-org:v3"/>'
        f"{body}</schema>"
    )


Make = Callable[..., CompiledSchematron]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Make]:
    """Write a schematron (and side files) to tmp_path and compile it."""

    def build(
        text: str, phase: str | None = None, files: dict[str, str] | None = None
    ) -> CompiledSchematron:
        for name, content in (files or {}).items():
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        main = tmp_path / "main.sch"
        main.write_text(text, encoding="utf-8")
        return compile_schematron(main, phase, cache_dir=tmp_path / "cache")

    yield build


def ids(compiled: CompiledSchematron, xml: str) -> list[str]:
    return [
        f.rule_id for f in compiled.iter_findings(xml.encode("utf-8"), ValidatorContext("t.xml"))
    ]


# -- ISO features, each with a case that fires and one that stays quiet ----------------------


def test_assert_fires_on_failure_report_on_success(make: Make) -> None:
    c = make(
        schema(
            '<pattern><rule context="a">'
            '<assert id="has-b" test="b">a needs b</assert>'
            '<report id="has-c" test="c">a has c</report>'
            "</rule></pattern>"
        )
    )
    assert ids(c, "<a><b/></a>") == []
    assert ids(c, "<a><c/></a>") == ["has-b", "has-c"]
    failure = c.run(b"<a/>")[0]
    assert failure.assertion.kind == "assert" and failure.assertion.test == "b"
    assert failure.message == "a needs b"


def test_include_is_recursive_and_relative_to_the_including_file(make: Make) -> None:
    c = make(
        schema('<include href="parts/pattern.sch"/>'),
        files={
            "parts/pattern.sch": (
                f'<pattern xmlns="{SCH_NS}" id="p"><include href="rule.sch"/></pattern>'
            ),
            "parts/rule.sch": (
                f'<rule xmlns="{SCH_NS}" context="a"><assert id="inc" test="@x">x</assert></rule>'
            ),
        },
    )
    assert ids(c, '<a x="1"/>') == []
    assert ids(c, "<a/>") == ["inc"]


def test_missing_include_is_a_schematron_error(make: Make) -> None:
    with pytest.raises(SchematronError, match="cannot read"):
        make(schema('<include href="nowhere.sch"/>'))


def test_abstract_pattern_with_params(make: Make) -> None:
    c = make(
        schema(
            '<pattern abstract="true" id="needs">'
            '<rule context="$parent"><assert id="needs" test="$child">missing child</assert></rule>'
            "</pattern>"
            '<pattern is-a="needs" id="a-needs-b">'
            '<param name="parent" value="a"/><param name="child" value="b"/></pattern>'
        )
    )
    assert ids(c, "<r><a><b/></a></r>") == []
    assert ids(c, "<r><a/><a><b/></a></r>") == ["needs"]


def test_abstract_rules_and_extends_are_shared_not_inlined(make: Make) -> None:
    c = make(
        schema(
            "<rules>"  # ISO 2016: abstract rules every pattern may extend
            '<rule abstract="true" id="base"><assert id="root" test="@root">root</assert></rule>'
            '<rule abstract="true" id="ii"><extends rule="base"/>'
            '<assert id="ext" test="@extension">extension</assert></rule>'
            "</rules>"
            '<pattern><rule context="h:id"><extends rule="ii"/></rule>'
            '<rule context="h:setId"><extends rule="base"/></rule></pattern>'
        )
    )
    doc = '<d xmlns="urn:hl7-org:v3"><id root="1" extension="2"/><setId root="1"/></d>'
    assert ids(c, doc) == []
    bad = '<d xmlns="urn:hl7-org:v3"><id/><setId/></d>'
    assert ids(c, bad) == ["root", "ext", "root"]
    # each abstract rule is one named template, however often it is extended
    assert c.xslt.count('<xsl:template name="kcx:a') == 2


def test_extends_unknown_rule_is_an_error(make: Make) -> None:
    with pytest.raises(SchematronError, match="unknown rule"):
        make(schema('<pattern><rule context="a"><extends rule="nope"/></rule></pattern>'))


def test_let_at_schema_pattern_and_rule_level(make: Make) -> None:
    c = make(
        schema(
            '<let name="limit" value="2"/>'
            '<pattern><let name="total" value="count(//i)"/>'
            '<rule context="a"><let name="mine" value="count(i)"/>'
            '<assert id="lets" test="$mine &lt;= $limit and $total &lt;= 3">'
            '<value-of select="$mine"/> of <value-of select="$total"/></assert>'
            "</rule></pattern>"
        )
    )
    assert ids(c, "<r><a><i/><i/></a></r>") == []
    assert ids(c, "<r><a><i/><i/><i/></a></r>") == ["lets"]
    failures = c.run(b"<r><a><i/></a><a><i/><i/><i/></a></r>")  # the total breaks both
    assert [f.message for f in failures] == ["1 of 4", "3 of 4"]


def test_abstract_rule_sees_the_extending_rules_let(make: Make) -> None:
    c = make(
        schema(
            "<pattern>"
            '<rule abstract="true" id="uses-v"><assert id="v" test="@n = $v">n</assert></rule>'
            '<rule context="a"><let name="v" value="\'1\'"/><extends rule="uses-v"/></rule>'
            "</pattern>"
        )
    )
    assert ids(c, '<a n="1"/>') == []
    assert ids(c, '<a n="2"/>') == ["v"]


def test_phase_selects_active_patterns_and_has_its_own_lets(make: Make) -> None:
    text = schema(
        '<phase id="only-b"><active pattern="pb"/><let name="want" value="\'yes\'"/></phase>'
        '<phase id="none"/>'
        '<pattern id="pa"><rule context="a"><assert id="A" test="false()">a</assert></rule>'
        "</pattern>"
        '<pattern id="pb"><rule context="a"><assert id="B" test="false()">b</assert></rule>'
        "</pattern>",
        extra=' defaultPhase="none"',
    )
    doc = "<a/>"
    assert ids(make(text, "#ALL"), doc) == ["A", "B"]
    assert ids(make(text, "only-b"), doc) == ["B"]
    assert ids(make(text), doc) == []  # defaultPhase
    assert ids(make(text, "#DEFAULT"), doc) == []
    with pytest.raises(SchematronError, match="no phase"):
        make(text, "missing")
    phase_let = schema(
        '<phase id="p"><active pattern="x"/><let name="want" value="\'yes\'"/></phase>'
        '<pattern id="x"><rule context="a"><assert id="W" test="@v = $want">w</assert></rule>'
        "</pattern>"
    )
    assert ids(make(phase_let, "p"), '<a v="yes"/>') == []
    assert ids(make(phase_let, "p"), '<a v="no"/>') == ["W"]


def test_value_of_and_name_in_messages(make: Make) -> None:
    c = make(
        schema(
            '<pattern><rule context="*[@code]">'
            '<assert id="code" test="@code = \'ok\'"><name/> has code <value-of select="@code"/>, '
            'child <name path="name(*[1])"/>, kind <name path="@kind"/></assert></rule></pattern>'
        )
    )
    assert ids(c, '<a code="ok"/>') == []
    # ISO 5.4.6: name/@path "returns a string that is the name of a node": its value is shown
    failure = c.run(b'<a code="bad" kind="x"><kid/></a>')[0]
    assert failure.message == "a has code bad, child kid, kind x"


def test_value_of_follows_the_query_binding(make: Make) -> None:
    body = (
        '<pattern><rule context="a"><assert id="v" test="false()">'
        '<value-of select="i/@n"/></assert></rule></pattern>'
    )
    doc = b'<a><i n="1"/><i n="2"/></a>'
    # XSLT 1 (backwards-compatible mode) takes the first node, XSLT 2 joins them all
    assert make(schema(body, "xslt")).run(doc)[0].message == "1"
    assert make(schema(body, "xslt2")).run(doc)[0].message == "1 2"


def test_unsupported_query_binding_is_refused(make: Make) -> None:
    with pytest.raises(SchematronError, match="queryBinding"):
        make(schema("<pattern/>", "exslt"))


def test_diagnostics_are_reported(make: Make) -> None:
    c = make(
        schema(
            '<pattern><rule context="a">'
            '<assert id="d" test="@n" diagnostics="why fix">needs n</assert></rule></pattern>'
            '<diagnostics><diagnostic id="why">element <name/> without n</diagnostic>'
            '<diagnostic id="fix">add an n attribute</diagnostic></diagnostics>'
        )
    )
    assert ids(c, '<a n="1"/>') == []
    failure = c.run(b"<a/>")[0]
    assert failure.diagnostics == (("why", "element a without n"), ("fix", "add an n attribute"))
    assert "add an n attribute" in next(c.iter_findings(b"<a/>")).message


def test_namespaces_come_from_ns_declarations(make: Make) -> None:
    c = make(
        schema(
            '<ns prefix="v3" uri="urn:hl7-org:v3"/>'
            '<pattern><rule context="v3:ClinicalDocument">'
            '<assert id="tid" test="v3:templateId/@root = \'1.2\'">templateId</assert>'
            "</rule></pattern>"
        )
    )
    assert (
        ids(
            c,
            '<ClinicalDocument xmlns="urn:hl7-org:v3"><templateId root="1.2"/></ClinicalDocument>',
        )
        == []
    )
    assert ids(c, '<ClinicalDocument xmlns="urn:hl7-org:v3"/>') == ["tid"]
    assert ids(c, "<ClinicalDocument/>") == []  # no namespace: not the same element


def test_flag_and_role_decide_severity(make: Make) -> None:
    c = make(
        schema(
            '<pattern><rule context="a">'
            '<assert id="e" role="error" test="false()">e</assert>'
            '<assert id="f" flag="fatal" test="false()">f</assert>'
            '<assert id="w" role="warning" test="false()">w</assert>'
            '<assert id="i" role="info" test="false()">i</assert>'
            '<assert id="plain" test="false()">plain</assert>'
            '<assert id="quiet" role="error" test="true()">never</assert>'
            "</rule></pattern>"
        )
    )
    found = {f.rule_id: f for f in c.iter_findings(b"<a/>", ValidatorContext("t.xml"))}
    assert {k: v.severity for k, v in found.items()} == {
        "e": Severity.F2,
        "f": Severity.F2,
        "w": Severity.F4,
        "i": Severity.OK,
        "plain": Severity.F2,
    }
    assert not found["w"].blocking and found["e"].blocking
    assert severity_of("", "WARNING") is Severity.F4
    assert severity_of("", "", "warn") is Severity.F4  # the rule's role is the fallback


def test_first_matching_rule_per_pattern_only(make: Make) -> None:
    c = make(
        schema(
            '<pattern id="p1">'
            '<rule context="a[@special]"><assert id="special" test="@ok">s</assert></rule>'
            '<rule context="a"><assert id="general" test="@ok">g</assert></rule>'
            "</pattern>"
            '<pattern id="p2"><rule context="a"><assert id="other" test="@ok">o</assert></rule>'
            "</pattern>"
        )
    )
    assert ids(c, '<a ok="1" special="1"/>') == []
    # the general rule never sees a[@special] in p1, but p2's rule still does
    assert ids(c, '<a special="1"/>') == ["special", "other"]
    assert ids(c, "<a/>") == ["general", "other"]


def test_attribute_and_text_contexts_are_visited(make: Make) -> None:
    c = make(
        schema(
            '<pattern><rule context="a/@v"><assert id="attr" test=". = \'1\'">v</assert></rule>'
            '<rule context="b/text()"><assert id="text" test="normalize-space() != \'\'">t</assert>'
            "</rule></pattern>"
        )
    )
    assert ids(c, '<r><a v="1"/><b>x</b></r>') == []
    assert ids(c, '<r><a v="2"/><b>  </b></r>') == ["attr", "text"]


def test_location_is_a_readable_path_with_the_source_line(make: Make) -> None:
    c = make(
        schema(
            '<pattern><rule context="h:entry"><assert id="obs" test="h:observation">o</assert>'
            "</rule></pattern>"
        )
    )
    doc = (
        b'<?xml version="1.0"?>\n<!-- a comment -->\n<ClinicalDocument xmlns="urn:hl7-org:v3">\n'
        b"  <entry><observation/></entry>\n  <entry/>\n</ClinicalDocument>\n"
    )
    (finding,) = list(c.iter_findings(doc, ValidatorContext("doc.xml")))
    assert finding.location.path == "/ClinicalDocument[1]/entry[2]"
    assert finding.location.line == 5
    assert finding.location.evidence == "doc.xml"
    assert finding.location.language == "xpath"


def test_doc_resolves_next_to_the_schematron_and_value_sets_are_lifted(make: Make) -> None:
    vocab = '<valueSets><valueSet><concept code="A"/><concept code="B"/></valueSet></valueSets>'
    c = make(
        schema(
            "<pattern>"
            "<rule context=\"c[@code = doc('voc/codes.xml')//valueSet[1]/concept/@code]\">"
            '<assert id="known" test="false()">known code <value-of select="@code"/></assert>'
            "</rule>"
            '<rule context="c"><assert id="vs" test="'
            "@code = doc('voc/codes.xml')//valueSet[1]/concept/@code\">unknown</assert></rule>"
            "</pattern>"
        ),
        files={"voc/codes.xml": vocab},
    )
    assert "$kcx_h1" in c.xslt and "doc(" not in c.xslt.split("<xsl:param name=")[0]
    assert [
        (f.rule_id, f.message) for f in list(c.iter_findings(b'<r><c code="A"/><c code="Z"/></r>'))
    ] == [
        ("known", "known code A"),
        ("vs", "unknown"),
    ]


def test_cheap_first_moves_value_set_predicates_after_the_path() -> None:
    lifted = Hoister().rewrite("*[h:x]/h:x/h:code[@code = doc('v.xml')//c/@code or @nullFlavor]")
    assert cheap_first(lifted) == "(*[h:x]/h:x/h:code)[@code = $kcx_h1 or @nullFlavor]"
    assert cheap_first("a[1][@c = $kcx_h1]") == "a[1][@c = $kcx_h1]"  # positional: untouched
    assert cheap_first("a | b[@c = $kcx_h1]") == "a | b[@c = $kcx_h1]"  # union: untouched


def test_untrusted_document_is_parsed_safely(make: Make) -> None:
    c = make(schema('<pattern><rule context="a"><assert test="b">b</assert></rule></pattern>'))
    hostile = b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    with pytest.raises(UnsafePayload):
        list(c.iter_findings(hostile))


def test_saxon_may_not_fetch_from_the_network(make: Make) -> None:
    c = make(
        schema(
            '<pattern><rule context="a">'
            "<assert test=\"count(doc(concat('http://', '127.0.0.1:9/x.xml'))//*) = 0\">"
            "net</assert>"
            "</rule></pattern>"
        )
    )
    with pytest.raises(SchematronRunError, match="prohibited"):
        c.run(b"<a/>")


def test_generated_stylesheet_is_cached_on_disk(tmp_path: Path) -> None:
    main = tmp_path / "s.sch"
    main.write_text(
        schema('<pattern><rule context="a"><assert id="x" test="@x">x</assert></rule></pattern>')
    )
    cache_dir = tmp_path / "cache"
    first = compile_schematron(main, cache_dir=cache_dir)
    assert not first.timings.from_cache and list(cache_dir.glob("*.xsl"))
    assert compile_schematron(main, cache_dir=cache_dir) is first  # in memory
    forget_compiled()
    second = compile_schematron(main, cache_dir=cache_dir)
    assert second.timings.from_cache and ids(second, "<a/>") == ["x"]
    # a changed schematron is noticed (size/mtime), unless a pack hash vouches for it
    time.sleep(0.01)
    main.write_text(
        schema('<pattern><rule context="a"><assert id="y" test="@y">y</assert></rule></pattern>')
    )
    forget_compiled()
    third = compile_schematron(main, cache_dir=cache_dir)
    assert not third.timings.from_cache and ids(third, "<a/>") == ["y"]


def test_kcert_cache_env_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KCERT_CACHE", str(tmp_path / "kc"))
    main = tmp_path / "s.sch"
    main.write_text(
        schema('<pattern><rule context="a"><assert test="1">x</assert></rule></pattern>')
    )
    compile_schematron(main)
    assert list((tmp_path / "kc" / "schematron").glob("*.xsl"))


def test_schematrons_are_chosen_by_document_template_id() -> None:
    files = ["art/medcom-documents-S_R.sch", "dk/conf-qrd-sch-dk.xml", "dk/conf-qrd-sch.xml"]
    assert choose(["1.2.208.184.15.1", "x"], files, DOCUMENT_SCHEMATRONS) == [files[0]]
    assert choose(["1.2.208.184.13.1"], files, DOCUMENT_SCHEMATRONS) == [files[1]]
    assert choose(["9.9"], files, DOCUMENT_SCHEMATRONS) == []


def test_line_finder_handles_prefixes_and_attributes() -> None:
    root = etree.fromstring(
        b'<a xmlns:s="urn:s">\n<s:b/>\n<b/>\n<s:b x="1"/>\n</a>'  # two s:b, one b
    )
    finder = LineFinder(root)
    assert finder.line("/a[1]/s:b[2]/@x") == 4
    assert finder.line("/a[1]/b[1]") == 3
    assert finder.line("/a[1]/b[2]") is None


# -- the official material (../shared/corpus) ------------------------------------------------


def _corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"../shared/corpus is absent ({CORPUS}): official artefacts not available")
    return CORPUS


DK_SCHEMATRONS = [
    "conf-phmr-dk.sch.xml",
    "conf-qrd-sch-dk.xml",
    "conf-qrd-sch.xml",
    "conf-qfdd-sch-dk.xml",
    "conf-qfdd-sch.xml",
    "conf-pdc-sch-dk.xml",
    "Personal Healthcare Monitoring Report 1.2.sch.xml",
]


def _canonical(tree: etree._ElementTree, node: object) -> str:
    if isinstance(node, etree._Element):
        return str(tree.getpath(node))
    if getattr(node, "is_attribute", False):
        return f"{tree.getpath(node.getparent())}/@{node.attrname}"  # type: ignore[attr-defined]
    return repr(node)


@pytest.mark.parametrize("name", DK_SCHEMATRONS)
def test_dk_schematrons_fail_exactly_what_lxml_fails(name: str, tmp_path: Path) -> None:
    """(a) Same failed assertions (test + node) as lxml's ISO skeleton, on every example."""
    corpus = _corpus()
    sch = corpus / "cda" / "schematron" / "dk" / name
    source = etree.parse(str(sch))
    # lxml's XSLT 1 skeleton refuses queryBinding="xslt2"; these schemas only use XPath 1.
    source.getroot().set("queryBinding", "xslt")
    # The DK files use Schematron 1.5 habits (pattern/@name) that fail lxml's RELAX NG check.
    reference = isoschematron.Schematron(source, store_report=True, validate_schema=False)
    mine = compile_schematron(sch, cache_dir=tmp_path, leniency=PACK_LENIENCY)
    examples = sorted((corpus / "cda" / "examples").glob("*/*.xml"))
    assert examples
    for example in examples:
        tree = etree.parse(str(example))
        reference.validate(tree)
        expected = set()
        for failed in reference.validation_report.iter(
            f"{{{SVRL_NS}}}failed-assert", f"{{{SVRL_NS}}}successful-report"
        ):
            nodes = tree.xpath(failed.get("location"))
            expected.add((failed.get("test"), _canonical(tree, nodes[0])))
        finder = LineFinder(tree.getroot())
        actual = set()
        for failure in mine.run(example.read_bytes()):
            head, _, last = failure.path.rpartition("/")
            if last.startswith("@"):
                where = f"{tree.getpath(finder.element(head))}/{last}"
            else:
                where = str(tree.getpath(finder.element(failure.path)))
            actual.add((failure.assertion.test, where))
        assert actual == expected, example.name


CPD = "CPD-DK_Care_Plan_Diabetes_Example_1_2018-11-02"


@pytest.fixture(scope="module")
def care_plan(tmp_path_factory: pytest.TempPathFactory) -> CompiledSchematron:
    corpus = _corpus()
    sch = corpus / "cda" / "schematron" / "art-decor" / "medcom-documents-S_R.sch"
    return compile_schematron(
        sch, cache_dir=tmp_path_factory.mktemp("sch-cache"), leniency=PACK_LENIENCY
    )


@pytest.mark.slow
def test_art_decor_care_plan_compiles_fast_enough(care_plan: CompiledSchematron) -> None:
    timings = care_plan.timings
    # Targets are 15 s; the margin absorbs slow CI machines.
    assert timings.generate_s + timings.saxon_compile_s < 30
    assert len(care_plan.xslt) < 10_000_000  # the ISO skeleton made 35 MB of it


@pytest.mark.slow
def test_art_decor_valid_care_plan_has_no_errors(care_plan: CompiledSchematron) -> None:
    data = (CORPUS / "cda" / "examples" / "CPD" / f"{CPD}.xml").read_bytes()
    findings = list(care_plan.iter_findings(data, ValidatorContext(f"{CPD}.xml")))
    assert not [f for f in findings if f.blocking], findings
    list(care_plan.iter_findings(data))  # warm
    started = time.perf_counter()
    list(care_plan.iter_findings(data))
    assert time.perf_counter() - started < 1.0  # target 0.1 s; loose against CI noise


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variant", "about"),
    [
        ("NoGoalSectionComponent", ["GoalSection", "hl7:component", "1.2.208.184.15.1.10.20.2.2"]),
        ("NoHealthConcernCode", ["HealthConcernSection", "hl7:code", "75310-3"]),
        ("NoInterventionSectionTemplateId", ["hl7:templateId", "1.2.208.184.15.1.10.20.3"]),
    ],
)
def test_art_decor_invalid_care_plans_fail_for_their_reason(
    care_plan: CompiledSchematron, variant: str, about: list[str]
) -> None:
    data = (CORPUS / "cda" / "examples" / "CPD" / f"{CPD}_{variant}.xml").read_bytes()
    errors = [f for f in care_plan.iter_findings(data, ValidatorContext(variant)) if f.blocking]
    assert errors
    assert any(all(word in f.message for word in about) for f in errors), errors
    assert all(f.location.path.startswith("/ClinicalDocument[1]") for f in errors)
    assert all(f.location.line for f in errors)


def test_validator_picks_the_care_plan_schematron_for_a_cpd_document() -> None:
    corpus = _corpus()
    validator = SchematronValidator(corpus / "cda" / "schematron")
    root = etree.parse(str(corpus / "cda" / "examples" / "CPD" / f"{CPD}.xml")).getroot()
    assert validator.schematrons_for(root) == ["art-decor/medcom-documents-S_R.sch"]
    qrd = etree.parse(str(corpus / "cda" / "examples" / "QRD" / "QRD_KOL_Example_1_MaTIS.xml"))
    assert validator.schematrons_for(qrd.getroot()) == ["dk/conf-qrd-sch-dk.xml"]
