"""Per-document pruning of generated stylesheets (gates.py, prune.py): same findings, less Saxon.

A rule whose context names an element (or a templateId root) the document lacks cannot fire,
so its template is left out of what Saxon compiles; every other outcome must be exactly what
the whole stylesheet gives.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from harness.validators.schematron import (
    CompiledSchematron,
    SchematronError,
    compile_schematron,
    forget_compiled,
)
from harness.validators.schematron.gates import context_gates, decode, encode, unmet
from harness.validators.schematron.prune import Pruner

SCH_NS = "http://purl.oclc.org/dsdl/schematron"
V3 = "urn:hl7-org:v3"
NS = {"hl7": V3, "cda": V3}

OBS = "hl7:observation[hl7:templateId[@root = '1.2.3']]"
SCHEMA = f"""<schema xmlns="{SCH_NS}" queryBinding="xslt2">
<ns prefix="hl7" uri="{V3}"/>
<pattern id="doc">
  <rule context="hl7:ClinicalDocument">
    <assert id="DOC-ID" test="hl7:id">a document has an id</assert>
  </rule>
</pattern>
<pattern id="obs">
  <rule context="*[{OBS}]/{OBS}">
    <assert id="OBS-CODE" test="hl7:code">observation 1.2.3 has a code</assert>
  </rule>
  <rule context="hl7:observation">
    <report id="OBS-OTHER" test="true()">another observation</report>
  </rule>
</pattern>
<pattern id="supply">
  <rule context="//hl7:supply[hl7:templateId/@root = '9.9']/hl7:quantity">
    <assert id="SUPPLY-VALUE" test="@value">a quantity has a value</assert>
  </rule>
</pattern>
</schema>
"""


def doc(body: str) -> bytes:
    return f'<ClinicalDocument xmlns="{V3}">{body}</ClinicalDocument>'.encode()


DOCUMENTS = [
    doc(""),
    doc("<id/>"),
    doc('<component><observation><templateId root="1.2.3"/></observation></component>'),
    doc('<component><observation><templateId root="1.2.3"/><code/></observation></component>'),
    doc('<component><observation><templateId root="4.5"/></observation></component>'),
    doc('<supply><templateId root="9.9"/><quantity/></supply>'),
    doc('<supply><templateId root="9.8"/><quantity/></supply><templateId root="9.9"/>'),
]


def findings(compiled: CompiledSchematron, data: bytes) -> list[tuple[str, str]]:
    return [(f.rule_id, f.location.path) for f in compiled.iter_findings(data, "t.xml")]


@pytest.fixture
def sch(tmp_path: Path) -> Path:
    path = tmp_path / "main.sch"
    path.write_text(SCHEMA, encoding="utf-8")
    return path


def test_pruned_findings_equal_the_whole_stylesheets(sch: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    forget_compiled()
    whole = compile_schematron(sch, cache_dir=cache_dir)
    whole.prune = False
    expected = [findings(whole, d) for d in DOCUMENTS]
    assert expected[0] == [("DOC-ID", "/ClinicalDocument[1]")]
    assert ("OBS-CODE", "/ClinicalDocument[1]/component[1]/observation[1]") in expected[2]
    assert ("OBS-OTHER", "/ClinicalDocument[1]/component[1]/observation[1]") in expected[4]
    assert any(rule == "SUPPLY-VALUE" for rule, _ in expected[5])
    assert not any(rule == "SUPPLY-VALUE" for rule, _ in expected[6])
    forget_compiled()
    pruned = compile_schematron(sch, cache_dir=cache_dir)
    assert [findings(pruned, d) for d in DOCUMENTS] == expected
    # the whole stylesheet was never compiled in this process: only the pruned shapes
    assert pruned.executable is None and pruned.timings.variants >= 3
    forget_compiled()


def test_a_stylesheet_is_compiled_whole_before_it_is_ever_pruned(sch: Path, tmp_path: Path) -> None:
    forget_compiled()
    first = compile_schematron(sch, cache_dir=tmp_path / "fresh")
    findings(first, DOCUMENTS[0])
    assert first.executable is not None and first.timings.variants == 0
    assert list((tmp_path / "fresh").glob("*.compiles"))
    forget_compiled()


def test_a_static_error_in_a_rule_the_document_cannot_fire_still_counts(
    tmp_path: Path,
) -> None:
    broken = SCHEMA.replace('test="@value"', 'test="@value +* ("')
    path = tmp_path / "broken.sch"
    path.write_text(broken, encoding="utf-8")
    forget_compiled()
    compiled = compile_schematron(path, cache_dir=tmp_path / "cache")
    with pytest.raises(SchematronError, match="Saxon could not compile"):
        list(compiled.iter_findings(DOCUMENTS[0], "t.xml"))  # no supply: the rule could be pruned
    forget_compiled()


def test_variants_are_bounded(sch: Path, tmp_path: Path) -> None:
    from harness.validators.schematron import compiler

    cache_dir = tmp_path / "cache"
    forget_compiled()
    findings(compile_schematron(sch, cache_dir=cache_dir), DOCUMENTS[0])  # proves it compiles
    forget_compiled()
    compiled = compile_schematron(sch, cache_dir=cache_dir)
    for data in DOCUMENTS * 2:
        findings(compiled, data)
    assert len(compiled._variants) <= compiler.MAX_VARIANTS
    forget_compiled()


# -- the gate analysis: necessary conditions only ----------------------------------------------


def gates(context: str) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    return set(context_gates(context, NS))


def test_gates_of_path_steps_and_templateid_predicates() -> None:
    assert gates("hl7:ClinicalDocument") == {(V3, "ClinicalDocument", ())}
    assert gates("//hl7:a[hl7:templateId[@root = '1.2'][@extension = 'x']]/cda:b") == {
        (V3, "a", ()),
        (V3, "templateId", (("extension", "x"), ("root", "1.2"))),
        (V3, "b", ()),
    }
    assert gates("hl7:a[@root='1' and hl7:b]") == {(V3, "a", (("root", "1"),)), (V3, "b", ())}
    assert gates("hl7:s[hl7:templateId/@root = '9']") == {
        (V3, "s", ()),
        (V3, "templateId", (("root", "9"),)),
    }
    assert gates("hl7:a | hl7:a/hl7:b") == {(V3, "a", ())}


@pytest.mark.parametrize(
    "context",
    [
        "/",
        "*",
        "@root",
        "text()",
        "a",  # no prefix: no gate (default element namespace not assumed)
        "x:a",  # unknown prefix
        "hl7:a | hl7:b",
        "$doc//hl7:a",
        "doc('other.xml')//hl7:a",
        "key('k', 'v')",
    ],
)
def test_contexts_without_a_certain_gate_give_none(context: str) -> None:
    assert gates(context) == set()


@pytest.mark.parametrize(
    "predicate",
    [
        "hl7:b or hl7:c",
        "not(hl7:b)",
        "count(hl7:b) = 0",
        "hl7:b/hl7:c or hl7:d",
        "hl7:c and hl7:b or hl7:d",
        "if (hl7:b) then hl7:c else hl7:d",
        "@root = $vs",
        "@root != '1'",
        "1",
        "some $x in hl7:b satisfies $x",
    ],
)
def test_predicates_that_do_not_force_an_element_give_no_gate(predicate: str) -> None:
    assert gates(f"hl7:a[{predicate}]") == {(V3, "a", ())}


def test_gate_encoding_round_trips_any_text() -> None:
    sample = {(V3, "templateId", (("root", "a b|c=d%e'\"<&"),)), ("", "x", ())}
    assert decode(encode(sample)) == sample
    assert "&" not in encode(sample) and '"' not in encode(sample)


def test_unmet_gates_of_a_document() -> None:
    root = etree.fromstring(DOCUMENTS[2])
    wanted = {
        (V3, "observation", ()),
        (V3, "templateId", (("root", "1.2.3"),)),
        (V3, "templateId", (("root", "4.5"),)),
        (V3, "supply", ()),
    }
    assert unmet(root, wanted) == {(V3, "templateId", (("root", "4.5"),)), (V3, "supply", ())}


def test_pruner_leaves_unknown_layouts_whole() -> None:
    assert Pruner("<xsl:stylesheet/>").segments == ()
    odd = '<xsl:template match="a" kcx:gates="u|a">\n<xsl:if test="x"/>'
    assert Pruner(odd).segments == ()


def test_a_variant_keeping_more_rules_serves_a_simpler_document(sch: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    forget_compiled()
    whole = compile_schematron(sch, cache_dir=cache_dir)
    whole.prune = False
    expected = [findings(whole, d) for d in (DOCUMENTS[3], DOCUMENTS[1], DOCUMENTS[5])]
    forget_compiled()
    pruned = compile_schematron(sch, cache_dir=cache_dir)
    assert findings(pruned, DOCUMENTS[3]) == expected[0]
    assert findings(pruned, DOCUMENTS[1]) == expected[1]  # fewer elements: the same variant
    assert pruned.timings.variants == 1
    assert findings(pruned, DOCUMENTS[5]) == expected[2]  # a supply: a new, wider variant
    assert pruned.timings.variants == 2
    assert findings(pruned, DOCUMENTS[3]) == expected[0] and pruned.timings.variants == 2
    forget_compiled()
