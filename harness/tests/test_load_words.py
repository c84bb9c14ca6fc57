"""The console words of a load run (`harness.load.words`) in Danish and English: the table
itself, the engine's progress lines, the plan's notes and `run_load`'s own lines (fast: the
preflight fails, so no Locust process is started)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

from harness.load.engine import Progress, build_plan, busiest, run_load
from harness.load.model import CpuSample, Target
from harness.load.words import WORDS, say
from harness.tests.flp_standin import running_standin
from harness.tests.load_kit import small_profile, small_rates

HISTORY_HEAD = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size\n"
)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_lines_with_the_same_placeholders() -> None:
    assert WORDS["da"].keys() == WORDS["en"].keys()
    for key, danish in WORDS["da"].items():
        assert fields(danish) == fields(WORDS["en"][key]), key


def test_danish_is_the_default_and_english_on_request() -> None:
    assert say("da", "interrupted") == "afbrudt: stopper Locusts master og workers"
    assert say("xx", "interrupted") == say("da", "interrupted")
    assert say("en", "interrupted") == "interrupted: stopping Locust's master and workers"


def history(tmp_path: Path) -> Path:
    prefix = tmp_path / "locust"
    rows = [
        "100,10,,Aggregated,0,0,3,3,3,3,3,3,3,3,3,3,3,0,0,0,0,0,0,0\n",
        "105,17,,Aggregated,32.1,0,3,3,3,3,3,3,3,3,3,3,3,367,4,3,3,1,9,100\n",
    ]
    Path(f"{prefix}_stats_history.csv").write_text(HISTORY_HEAD + "".join(rows), "utf-8")
    return prefix


@pytest.mark.parametrize(
    ("lang", "starting", "line", "cpu"),
    [
        (
            "da",
            "belastning 0/40 s: starter",
            "belastning 5/40 s: 17 brugere, 32.1 forespørgsler/s, 367 forespørgsler, "
            "4 fejl (1.1 %)",
            ", generatorens CPU højst 93 % (worker-2)",
        ),
        (
            "en",
            "load 0/40 s: starting",
            "load 5/40 s: 17 users, 32.1 req/s, 367 requests, 4 failures (1.1 %)",
            ", generator CPU at most 93 % (worker-2)",
        ),
    ],
)
def test_progress_lines_follow_the_language_and_show_the_generators_cpu(
    tmp_path: Path, lang: str, starting: str, line: str, cpu: str
) -> None:
    prefix = tmp_path / "none"
    assert Progress(prefix, 40, lang).line() == starting
    progress = Progress(history(tmp_path), 40, lang)
    assert progress.line() == line
    samples = [
        CpuSample(1.0, "worker-2", 99.0),  # older than the window: not the current figure
        CpuSample(7.0, "master", 12.0),
        CpuSample(7.0, "worker-2", 93.0),
        CpuSample(8.0, "worker-1", 40.0),
    ]
    assert progress.line(samples) == line + cpu


def test_the_busiest_process_is_taken_from_the_last_samples() -> None:
    assert busiest([]) is None
    samples = [CpuSample(0.0, "master", 99.0), CpuSample(9.0, "worker-1", 20.0)]
    hottest = busiest(samples)
    assert hottest is not None and hottest.process == "worker-1"


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("da", "begrænset til profilens grænse max_users 3 (hver bruger sender så hurtigere)"),
        ("en", "clipped to the profile's bound max_users 3 (each user then paces faster)"),
    ],
)
def test_the_plans_notes_follow_the_language(lang: str, says: str) -> None:
    built = build_plan(
        small_profile(max_users=3),
        small_rates(20.0),
        Target("t", "http://127.0.0.1:9"),
        shape="normal",
        lang=lang,
    )
    assert says in built.notes[0]


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "da",
            [
                "korrekthedstjek: hver operation én gang mod {url}",
                "korrekthedstjek plan-create: ok",
                "korrekthedstjek plan-share: ",
            ],
        ),
        (
            "en",
            [
                "preflight: each operation once against {url}",
                "preflight plan-create: ok",
                "preflight plan-share: ",
            ],
        ),
    ],
)
def test_run_loads_own_lines_follow_the_language(
    tmp_path: Path, lang: str, expected: list[str]
) -> None:
    lines: list[str] = []
    with running_standin(("share-format",)) as (url, _):
        run_load(
            small_profile(),
            small_rates(),
            Target("s", url),
            shape="normal",
            out_dir=tmp_path,
            progress=lines.append,
            lang=lang,
        )
    first, ok, failed = (e.format(url=url) for e in expected)
    assert lines[0] == first
    assert ok in lines
    (share,) = [line for line in lines if line.startswith(failed)]
    assert "shared as 'PDF', expected DK-CPD" in share  # the check's own reason, as written
    other = "en" if lang == "da" else "da"
    assert not [line for line in lines if line.startswith(say(other, "preflight", url=""))]


def test_run_load_speaks_danish_unless_told() -> None:
    import inspect

    assert inspect.signature(run_load).parameters["lang"].default == "da"


@pytest.mark.parametrize(("lang", "frame"), [("da", "kcert: fejl: "), ("en", "kcert: error: ")])
def test_the_worker_command_speaks_the_language_too(
    lang: str, frame: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from harness.load.distributed import worker_command

    assert worker_command(argparse.Namespace(master="nowhere", processes=1, lang=lang)) == 2
    assert capsys.readouterr().err == f"{frame}--master 'nowhere': expected HOST:PORT\n"
    joining = say(lang, "joining", n=2, host="127.0.0.1", port=5557)
    assert joining.startswith(
        "kcert: 2 Locust-worker(s) slutter sig"
        if lang == "da"
        else "kcert: 2 Locust worker(s) join"
    )
