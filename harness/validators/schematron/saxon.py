"""The one SaxonC processor of the process: compile stylesheets, parse documents, no network.

SaxonC wants a single processor per process; everything shares it behind a lock because
SaxonC objects are not thread-safe.
"""

from __future__ import annotations

import threading
from typing import Any

from harness.validators.schematron.catalogue import Catalogue
from harness.validators.schematron.model import SchematronError

# Saxon refuses any other scheme for doc(), unparsed-text(), xsl:include and friends: value
# sets come from the pack's folder, never from the network.
ALLOWED_PROTOCOLS = "file"


class SaxonRuntime:
    _instance: SaxonRuntime | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        from saxonche import PySaxonProcessor

        self.lock = threading.RLock()
        self.processor: Any = PySaxonProcessor(license=False)
        self.processor.set_configuration_property(
            "http://saxon.sf.net/feature/allowedProtocols", ALLOWED_PROTOCOLS
        )
        self.xslt: Any = self.processor.new_xslt30_processor()
        self.builder: Any = self.processor.new_document_builder()
        # One empty sequence for the life of the process: SaxonC holds parameter values by
        # pointer, so a value handed to a stylesheet must never be freed.
        self.empty: Any = self.processor.empty_sequence()

    @classmethod
    def get(cls) -> SaxonRuntime:
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = SaxonRuntime()
            return cls._instance

    def compile(self, stylesheet: str) -> Any:
        # Not fast_compile: SaxonC 13 compiles ~4x faster with it, but then fails at run time
        # (NullPointerException in TemplateRule.ensureBodyEvaluatorExists).
        from saxonche import PySaxonApiError

        with self.lock:
            try:
                return self.xslt.compile_stylesheet(stylesheet_text=stylesheet, encoding="UTF-8")
            except PySaxonApiError as exc:
                raise SchematronError(f"Saxon could not compile the stylesheet: {exc}") from None

    def supply_lifted(self, executable: Any, catalogue: Catalogue) -> None:
        """Evaluate each lifted value-set path once and hand it to the stylesheet."""
        if not catalogue.lifted:
            return
        from saxonche import PySaxonApiError

        with self.lock:
            xpath = self.processor.new_xpath_processor()
            xpath.set_base_uri(catalogue.base_uri)
            if catalogue.version == "1.0":
                xpath.set_backwards_compatible(True)
            for prefix, uri in catalogue.namespaces:
                xpath.declare_namespace(prefix, uri)
            for name, expr in catalogue.lifted:
                try:
                    value = xpath.evaluate(expr)
                except PySaxonApiError:
                    # Left to the stylesheet's own default, which fails (or not) per document,
                    # exactly where the unlifted expression would have.
                    continue
                if value is not None:
                    executable.set_parameter(name, value)

    def parse(self, xml_text: str, base_uri: str | None = None) -> Any:
        """An XDM document from XML text that safeparse has already vetted and re-serialised."""
        with self.lock:
            if base_uri is None:
                return self.processor.parse_xml(xml_text=xml_text, encoding="UTF-8")
            self.builder.set_base_uri(base_uri)
            return self.builder.parse_xml(xml_text=xml_text, encoding="UTF-8")
