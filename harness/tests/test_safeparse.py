"""Hostile payloads: XXE, billion laughs, deep nesting, oversize, malformed."""

from __future__ import annotations

import pytest

from harness.safeparse import (
    Limits,
    MalformedPayload,
    UnsafePayload,
    parse_json,
    parse_xml,
    sniff_format,
)

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Bundle xmlns="http://hl7.org/fhir"><id value="&xxe;"/></Bundle>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Bundle SYSTEM "http://127.0.0.1:9/evil.dtd">
<Bundle xmlns="http://hl7.org/fhir"/>"""


@pytest.mark.parametrize(
    "payload", [XXE, BILLION_LAUGHS, EXTERNAL_DTD], ids=["xxe", "laughs", "dtd"]
)
def test_dtds_and_entities_are_refused_with_a_line(payload: bytes) -> None:
    with pytest.raises(UnsafePayload) as err:
        parse_xml(payload)
    assert err.value.line == 2
    assert "DTD or entity" in str(err.value)


def test_deep_xml_is_refused() -> None:
    deep = b"<a>" * 300 + b"</a>" * 300
    with pytest.raises(UnsafePayload, match="deeper than 256"):
        parse_xml(deep)


def test_depth_limit_is_kcerts_own_below_the_parsers() -> None:
    limits = Limits(max_depth=10)
    assert parse_xml(b"<a>" * 10 + b"</a>" * 10, limits).tag == "a"
    with pytest.raises(UnsafePayload, match="deeper than 10") as err:
        parse_xml(b"<a>" * 11 + b"</a>" * 11, limits)
    assert err.value.line == 1


def test_nesting_within_the_default_limit_parses() -> None:
    assert parse_xml(b"<a>" * 200 + b"</a>" * 200).tag == "a"


def test_oversized_payloads_are_refused() -> None:
    limits = Limits(max_bytes=100)
    with pytest.raises(UnsafePayload, match="exceeds the cap"):
        parse_xml(b"<a>" + b"x" * 200 + b"</a>", limits)
    with pytest.raises(UnsafePayload, match="exceeds the cap"):
        parse_json(b'{"a": "' + b"x" * 200 + b'"}', limits)


def test_malformed_xml_names_the_line() -> None:
    with pytest.raises(MalformedPayload) as err:
        parse_xml(b"<a>\n<b>\n</a>")
    assert err.value.line == 3


def test_good_xml_parses() -> None:
    root = parse_xml(b'<Bundle xmlns="http://hl7.org/fhir"><id value="x"/></Bundle>')
    assert root.tag == "{http://hl7.org/fhir}Bundle"


def test_deep_json_is_refused_before_recursion() -> None:
    with pytest.raises(UnsafePayload, match="deeper than"):
        parse_json(b"[" * 100_000 + b"]" * 100_000)


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    assert parse_json(b'{"a": "' + b"[" * 1000 + b'"}') == {"a": "[" * 1000}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"a": 1, "a": 2}', "duplicate JSON property"),
        (b'{"a": NaN}', "constant NaN"),
        (b'{"a": 1', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_malformed_json(payload: bytes, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        parse_json(payload)


def test_json_error_names_line() -> None:
    with pytest.raises(MalformedPayload) as err:
        parse_json(b'{\n"a": 1,\n"b": }')
    assert err.value.line == 3


@pytest.mark.parametrize(
    ("body", "ct", "fmt"),
    [
        (b"{}", "", "json"),
        (b" <a/>", "", "xml"),
        (b"x", "application/fhir+json", "json"),
        (b"x", "application/fhir+xml; charset=utf-8", "xml"),
        (b"hello", "text/plain", "unknown"),
        (b"\xef\xbb\xbf\n{}", "", "json"),
        (b"\xef\xbb\xbf<a/>", "", "xml"),
        ('<?xml version="1.0" encoding="UTF-16"?><a/>'.encode("utf-16"), "", "xml"),
        (b"\xfe\xff" + "\n <a/>".encode("utf-16-be"), "", "xml"),
        ('<?xml version="1.0" encoding="UTF-16"?><a/>'.encode("utf-16-le"), "", "xml"),
        ('<?xml version="1.0" encoding="UTF-32"?><a/>'.encode("utf-32"), "", "xml"),
        ('<?xml version="1.0"?><a/>'.encode("utf-32-be"), "", "xml"),
        ("{}".encode("utf-16"), "", "json"),  # recognised; parse_json then refuses non-UTF-8
        ("<a/>".encode("utf-16-le"), "", "xml"),  # looks like XML: the parser then refuses it
        (b"\xff\xfe", "", "unknown"),
        (b"", "", "unknown"),
        (b" " * 5000 + b"{}", "", "unknown"),  # sniffing looks at the first 4 KiB only
    ],
)
def test_sniff_format(body: bytes, ct: str, fmt: str) -> None:
    assert sniff_format(body, ct) == fmt


def test_moderately_deep_json_is_refused_after_parsing() -> None:
    with pytest.raises(UnsafePayload, match="deeper than 10"):
        parse_json(b"[" * 20 + b"]" * 20, Limits(max_depth=10))
    value = parse_json(b"[" * 10 + b"]" * 10, Limits(max_depth=10))
    depth = 0
    while isinstance(value, list):
        depth, value = depth + 1, value[0] if value else None
    assert depth == 10


def test_unterminated_string_of_escapes_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="Unterminated string"):
        parse_json(b'"' + b'\\"' * 1_000_000)


def test_utf16_dtd_is_refused_too() -> None:
    from harness.fhir.resource import read_resource

    doc = (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<!DOCTYPE Patient [<!ENTITY e "INJECTED">]>\n'
        '<Patient xmlns="http://hl7.org/fhir"><id value="&e;"/></Patient>'
    ).encode("utf-16")
    with pytest.raises(UnsafePayload, match="DTD"):
        parse_xml(doc)
    with pytest.raises(UnsafePayload):
        read_resource(doc, "application/fhir+xml")


def test_overlong_json_integer_is_malformed_not_a_crash() -> None:
    with pytest.raises(MalformedPayload, match="not valid JSON"):
        parse_json(b'{"a": ' + b"9" * 5000 + b"}")


def test_safe_xml_bytes_reserialises_without_dtd() -> None:
    from harness.safeparse import safe_xml_bytes

    out = safe_xml_bytes('<a xmlns="urn:x"><b>æ</b></a>'.encode("utf-16"))
    assert out.startswith(b"<?xml") and "æ".encode() in out
