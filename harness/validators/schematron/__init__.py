"""kcert's own ISO Schematron -> XSLT 3 compiler, run with SaxonC (saxonche).

compile_schematron(path) compiles once per process (the generated XSLT is cached on disk);
CompiledSchematron.iter_findings(document, context) gives findings, .svrl(document) the ISO
SVRL report; SchematronValidator picks the schematrons of a pack that apply to a CDA document
by its templateId roots. Schemas ISO calls erroneous are refused (SchematronError, file:line)
unless a named leniency (scope.LENIENCIES) lets them through with a warning on the compiled
schematron.
"""

from harness.validators.schematron.compiler import (
    CompiledSchematron,
    Timings,
    compile_schematron,
    forget_compiled,
)
from harness.validators.schematron.findings import SEVERITY_WORDS, Failure, severity_of
from harness.validators.schematron.model import SchematronError, SchematronRunError
from harness.validators.schematron.scope import (
    ART_DECOR,
    CROSS_PATTERN_EXTENDS,
    LENIENCIES,
    REBIND_RULE_LETS,
    STRICT,
)
from harness.validators.schematron.selection import (
    DOCUMENT_SCHEMATRONS,
    SchematronValidator,
    document_template_ids,
)

__all__ = [
    "ART_DECOR",
    "CROSS_PATTERN_EXTENDS",
    "DOCUMENT_SCHEMATRONS",
    "LENIENCIES",
    "REBIND_RULE_LETS",
    "SEVERITY_WORDS",
    "STRICT",
    "CompiledSchematron",
    "Failure",
    "SchematronError",
    "SchematronRunError",
    "SchematronValidator",
    "Timings",
    "compile_schematron",
    "document_template_ids",
    "forget_compiled",
    "severity_of",
]
