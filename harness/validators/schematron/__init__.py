"""kcert's own ISO Schematron -> XSLT 3 compiler, run with SaxonC (saxonche).

compile_schematron(path) compiles once per process (the generated XSLT is cached on disk);
CompiledSchematron.validate(document, name) gives findings; SchematronValidator picks the
schematrons of a pack that apply to a CDA document by its templateId roots.
"""

from harness.validators.schematron.compiler import (
    CompiledSchematron,
    SchematronRunError,
    Timings,
    compile_schematron,
    forget_compiled,
)
from harness.validators.schematron.findings import SEVERITY_WORDS, Failure, severity_of
from harness.validators.schematron.model import SchematronError
from harness.validators.schematron.selection import (
    DOCUMENT_SCHEMATRONS,
    SchematronValidator,
    document_template_ids,
)

__all__ = [
    "DOCUMENT_SCHEMATRONS",
    "SEVERITY_WORDS",
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
