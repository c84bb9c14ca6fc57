"""`kcert quality score EXTRACT|FOLDER`: extracts → the catalogue's checks (the engine) →
scores → the quality folder (scorecards, plots, patient lists, quality.json, CSV) → a kcert
run in the store with its report, manifest and optional signature. Exit 0 every check passed,
1 some failed, 2 an error: bad input (`kcert: error: file#/pointer: field: reason`, CSV
`file:line: field: reason`, a real-format CPR refused by the reader) or a check kcert could
not evaluate.

Nothing is half-written: the extracts are read and scored, and every file made in memory,
before anything is written; the quality folder is written under a temporary name and renamed
into the run folder, then the run path writes the rest and the manifest over it.

The catalogue and the engine (harness.quality.catalogue, harness.quality.engine) are imported
when the command runs, so this module reads without them and a test puts stand-ins in their
place (`_lane`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.checks.realcpr import mask_text
from harness.model.result import RunResult
from harness.population.extract import (
    LABELS,
    ExtractError,
    clinic_paths,
    is_csv_extract,
    read_clinics,
    read_extract,
    read_labels,
)
from harness.population.facts import Extract
from harness.quality.model import QualityRun, Status
from harness.quality.report.data import clinic_slugs
from harness.quality.report.folder import FOLDER, build_files, plot_paths, write_folder
from harness.quality.report.words import lang_of, percent, words
from harness.quality.runrecord import build_run, record
from harness.runner.engine import new_run_id
from harness.session import runpath
from harness.suite import suite_version

Input = tuple[Extract, str, str, str]  # (extract, source, vendor, cluster): score_all's input


class UsageProblem(Exception):
    """Bad input or an unusable setup: `kcert: error: …`, exit 2."""


def score_command(args: argparse.Namespace, console: Console | None = None) -> int:
    lang = lang_of(str(getattr(args, "lang", "da") or "da"))
    as_json = bool(getattr(args, "json", False))
    console = console or Console(highlight=False, soft_wrap=True, stderr=as_json)
    errors = Console(highlight=False, soft_wrap=True, stderr=True)
    try:
        return _score(args, console, errors, lang, as_json)
    except UsageProblem as exc:
        (errors if as_json else console).print(
            words(lang)["error"].format(text=mask_text(str(exc))), highlight=False, markup=False
        )
        return 2


def _score(
    args: argparse.Namespace, console: Console, errors: Console, lang: str, as_json: bool
) -> int:
    w = words(lang)
    source = Path(args.extract)
    catalogue_path = getattr(args, "catalogue", None)
    as_of: dt.date | None = getattr(args, "as_of", None)
    with _progress(errors) as progress:
        catalogue = _catalogue(Path(catalogue_path) if catalogue_path else None)
        count, inputs = iter_inputs(source)
        score_all = _lane("engine", "score_all")
        try:
            # one extract read, scored and let go at a time: at national scale (500 clinics,
            # a million patients) only the clinics' scores stay in memory, never every row
            qrun: QualityRun = score_all(
                _dated(inputs, as_of, w["no_as_of"]),
                catalogue,
                as_of=as_of,
                progress=progress(w["scoring"]),
                total=count,
            )
        except ValueError as exc:  # the engine's word on an input it cannot score
            raise UsageProblem(str(exc)) from None
        run_id = new_run_id()
        files = build_files(qrun, run_id, lang, summary_total(qrun, lang), progress(w["drawing"]))
    slugs = clinic_slugs(qrun)
    svgs = {s: (files[plot_paths(s)[0]], files[plot_paths(s)[1]]) for s in slugs}
    run = build_run(
        qrun,
        svgs,
        run_id=run_id,
        lang=lang,
        suite_version=suite_version().text(),
        sources=[str(source)],
    )
    run_dir = _record(args, run, qrun, files, str(source), console)
    if as_json:
        sys.stdout.write(files["quality.json"].decode("utf-8"))
        sys.stdout.flush()
    else:
        for line in summary_lines(qrun, lang):
            console.print(line, highlight=False, markup=False)
    console.print(
        w["report"].format(path=run_dir / FOLDER / "index.html"), highlight=False, markup=False
    )
    return run.verdict.exit_code


def iter_inputs(path: Path) -> tuple[int, Iterator[Input]]:
    """How many extracts `path` holds, and an iterator that reads them one at a time (the
    labels and the folder checked before the first); every problem an `UsageProblem` naming
    `file#/pointer` or `file:line`, before anything is written."""
    try:
        if path.is_file() or is_csv_extract(path):
            return 1, _reading([(path, "", "")])
        if not path.exists():
            raise UsageProblem(f"{path}: no such file or folder")
        paths = clinic_paths(path) if path.is_dir() else []
        if not paths:
            read_clinics(path)  # its own words for "not a folder of extracts", "no extract"
            raise UsageProblem(f"{path}: no extract")
        labels_path = path / LABELS
        known = {p.name for p in paths}
        labels = read_labels(labels_path, known) if labels_path.is_file() else {}
    except ExtractError as exc:
        raise UsageProblem(str(exc)) from None
    except OSError as exc:
        raise UsageProblem(f"{path}: {exc.strerror or exc}") from None
    return len(paths), _reading([(p, *labels.get(p.name, ("", ""))) for p in paths])


def _reading(paths: list[tuple[Path, str, str]]) -> Iterator[Input]:
    for one, vendor, cluster in paths:
        try:
            yield read_extract(one), str(one), vendor, cluster
        except ExtractError as exc:
            raise UsageProblem(str(exc)) from None
        except OSError as exc:
            raise UsageProblem(f"{one}: {exc.strerror or exc}") from None


def _dated(inputs: Iterator[Input], as_of: dt.date | None, no_as_of: str) -> Iterator[Input]:
    """The inputs, refusing an extract without its own as-of date when none was given."""
    for item in inputs:
        if as_of is None and item[0].as_of is None:
            raise UsageProblem(no_as_of.format(source=item[1]))
        yield item


def summary_total(qrun: QualityRun, lang: str) -> str:
    failed = sum(1 for c in qrun.clinics if any(r.status is Status.FAILED for r in c.results))
    erred = sum(1 for c in qrun.clinics if any(r.status is Status.ERROR for r in c.results))
    return words(lang)["summary_total"].format(
        clinics=len(qrun.clinics), failed=failed, errors=erred
    )


def summary_lines(qrun: QualityRun, lang: str) -> list[str]:
    """Per clinic its score and every failed or erring check, then the run's totals."""
    w = words(lang)
    lines = []
    for clinic in qrun.clinics:
        applicable = [r for r in clinic.results if r.status in (Status.PASSED, Status.FAILED)]
        score = "—" if clinic.score is None else percent(clinic.score / 100, lang)[:-2]
        lines.append(
            w["summary_clinic"].format(
                sor=clinic.clinic,
                name=clinic.name,
                score=score,
                passed=sum(1 for r in applicable if r.status is Status.PASSED),
                applicable=len(applicable),
            )
        )
        for r in clinic.results:
            title = r.check.title_en if lang == "en" else r.check.title_da
            if r.status is Status.FAILED:
                lines.append(
                    w["summary_failed"].format(
                        id=r.check.id,
                        title=title,
                        rate=percent(r.rate, lang),
                        num=r.numerator,
                        den=r.denominator,
                        threshold=percent(r.check.threshold, lang),
                    )
                )
            elif r.status is Status.ERROR:
                lines.append(w["summary_error"].format(id=r.check.id, title=title, reason=r.reason))
    lines.append(summary_total(qrun, lang))
    return [mask_text(line) for line in lines]


def _record(
    args: argparse.Namespace,
    run: RunResult,
    qrun: QualityRun,
    files: dict[str, bytes],
    source: str,
    console: Console,
) -> Path:
    reports = Path(getattr(args, "reports", None) or "reports")
    pdf = bool(getattr(args, "pdf", False))
    sign_key = getattr(args, "sign_key", None)
    w = words(run.lang)

    def writing(run: RunResult) -> Any:
        return console.status(w["writing_pdf"] if pdf else w["writing"])

    reporting = runpath.Reporting(
        reports, pdf=pdf, sign_key=Path(sign_key) if sign_key else None, writing=writing
    )
    run_dir = reports / run.run_id
    try:
        store = runpath.open_store(getattr(args, "store", None), reports)
        try:
            try:
                with writing(run):
                    write_folder(files, run_dir / FOLDER, pdf=pdf, run_id=run.run_id, lang=run.lang)
            except OSError as exc:
                raise runpath.ReportUnwritable(
                    f"cannot write the report under {reports}: {exc.strerror or exc}"
                ) from None
            return record(run, qrun, reporting, store, source)
        finally:
            store.close()
    except runpath.RunPathError as exc:
        _drop_unfinished(run_dir)
        raise UsageProblem(str(exc)) from None


def _drop_unfinished(run_dir: Path) -> None:
    """A run folder that holds only the quality folder (the run was not recorded) is removed."""
    with contextlib.suppress(OSError):
        if run_dir.is_dir() and [p.name for p in run_dir.iterdir()] == [FOLDER]:
            shutil.rmtree(run_dir)


def _catalogue(path: Path | None) -> Any:
    module = _module("catalogue")
    try:
        return module.load_catalogue(path)
    except ValueError as exc:  # CatalogueError: file:line: field: reason
        raise UsageProblem(str(exc)) from None
    except OSError as exc:
        raise UsageProblem(f"{path}: {exc.strerror or exc}") from None


def _module(name: str) -> Any:
    try:
        return importlib.import_module(f"harness.quality.{name}")
    except ModuleNotFoundError as exc:
        raise UsageProblem(
            f"kcert quality score is not part of this build ({exc.name or name} missing)"
        ) from None


def _lane(name: str, attr: str) -> Any:
    return getattr(_module(name), attr)


@contextlib.contextmanager
def _progress(console: Console) -> Iterator[Callable[[str], Callable[[int, int], None]]]:
    """A factory of progress callbacks, one bar each (on a terminal; elsewhere silent)."""
    if not console.is_terminal:
        yield lambda label: lambda done, total: None
        return
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )

    def bar(label: str) -> Callable[[int, int], None]:
        task = bars.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bars.update(task, completed=done, total=total)

        return advance

    with bars:
        yield bar
