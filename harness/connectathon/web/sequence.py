"""The test instance's sequence diagram: a pure function from steps and exchanges to inline SVG.

One lifeline per role (labelled with the system playing it), one arrow per instance step and
per recorded exchange, coloured by outcome (CSS classes, so the page's CSP needs no inline
style), each arrow a link: a step to its row in the steps table, an exchange to its page.
Every text is escaped here: the result is markup the templates insert as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from harness.connectathon.model import SIMULATED, InstanceStep, RecordedExchange, TestInstance

# Layout in SVG user units.
LANE_WIDTH = 190
MARGIN = 24
HEAD_HEIGHT = 46
ROW_HEIGHT = 34
MAX_LABEL = 48  # characters of an arrow's label; the whole text is in its <title>
MAX_ARROWS = 400  # bounds the diagram of an instance with very much traffic

OUTCOMES = ("passed", "failed", "error", "not-run", "pending")


@dataclass(frozen=True)
class Lifeline:
    role: str
    system: str  # the system id playing it, or "kcert" when simulated


@dataclass(frozen=True)
class Arrow:
    sender: str  # role
    receiver: str  # role
    label: str
    outcome: str  # one of OUTCOMES
    href: str
    kind: str  # "step" or "exchange"


def exchange_outcome(exchange: RecordedExchange) -> str:
    """An exchange's colour: an error, a blocking finding or an HTTP error status fails it."""
    if exchange.error:
        return "error"
    if any(str(f.get("severity", "")) in ("F1", "F2", "F3") for f in exchange.findings):
        return "failed"
    if exchange.status is not None and exchange.status >= 400:
        return "failed"
    if exchange.status is None:
        return "pending"
    return "passed"


def step_outcome(step: InstanceStep) -> str:
    return step.outcome if step.outcome in OUTCOMES else "pending"


def diagram_for(
    instance: TestInstance,
    steps: Sequence[InstanceStep],
    exchanges: Sequence[RecordedExchange],
    roles_order: Sequence[str] = (),
) -> tuple[list[Lifeline], list[Arrow]]:
    """Lifelines and arrows of one instance: each step, followed by the exchanges matched to it.

    Exchanges not matched to a step of this instance come last, in time order. An exchange's
    receiver is its endpoint's role; its sender is the role its source system plays here.
    """
    roles = list(dict.fromkeys([*roles_order, *(b.role for b in instance.bindings)]))
    for step in steps:
        for role in (step.sender, step.receiver):
            if role and role not in roles:
                roles.append(role)
    system_of = {b.role: b.system_id for b in instance.bindings}
    # A step kcert itself takes (the reset before a case) names kcert as its sender role.
    system_of.setdefault(SIMULATED, SIMULATED)
    lifelines = [Lifeline(role, system_of.get(role, "")) for role in roles]
    roles_of: dict[str, list[str]] = {}
    for b in instance.bindings:
        roles_of.setdefault(b.system_id, []).append(b.role)

    by_step: dict[str, list[RecordedExchange]] = {}
    loose: list[RecordedExchange] = []
    step_ids = {s.step_id for s in steps}
    for ex in sorted(exchanges, key=lambda e: (e.started, e.exchange_id)):
        (by_step.setdefault(ex.step_id, []) if ex.step_id in step_ids else loose).append(ex)

    arrows: list[Arrow] = []
    for step in sorted(steps, key=lambda s: s.seq):
        arrows.append(
            Arrow(
                step.sender,
                step.receiver,
                f"{step.seq}. {step.title or step.step_id}",
                step_outcome(step),
                f"#step-{step.step_id}",
                "step",
            )
        )
        for ex in by_step.get(step.step_id, []):
            arrows.append(_exchange_arrow(ex, roles_of, step))
    arrows.extend(_exchange_arrow(ex, roles_of, None) for ex in loose)
    arrows = arrows[:MAX_ARROWS]
    # A party no binding names (an unknown source, an endpoint of another role) gets its
    # own lifeline, so every arrow has both ends inside the diagram.
    for arrow in arrows:
        for role in (arrow.sender, arrow.receiver):
            if role not in roles:
                roles.append(role)
                lifelines.append(Lifeline(role, system_of.get(role, "")))
    return lifelines, arrows


def _exchange_arrow(
    ex: RecordedExchange, roles_of: dict[str, list[str]], step: InstanceStep | None
) -> Arrow:
    receiver = _endpoint_role(ex) or (step.receiver if step else "")
    senders = roles_of.get(ex.source, [])
    if step is not None and step.sender in senders:
        sender = step.sender
    elif step is not None and ex.source == SIMULATED and step.sender == SIMULATED:
        sender = step.sender  # kcert's own request in a step kcert takes
    elif senders:
        sender = senders[0]
    else:
        sender = step.sender if step else ""
    status = "—" if ex.status is None else str(ex.status)
    label = f"{ex.method} {ex.path} → {status}"
    return Arrow(
        sender, receiver, label, exchange_outcome(ex), f"/exchanges/{ex.exchange_id}", "exchange"
    )


def _endpoint_role(ex: RecordedExchange) -> str:
    # endpoint ids are f"{system_id}:{role}"; the role is what the target plays
    _, sep, role = ex.endpoint_id.rpartition(":")
    return role if sep else ""


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def render_svg(lifelines: Sequence[Lifeline], arrows: Sequence[Arrow], title: str) -> Markup:
    """The diagram as an inline <svg> element (an arrow naming no lifeline is clamped in)."""
    lanes = {line.role: i for i, line in enumerate(lifelines)}
    width = MARGIN * 2 + LANE_WIDTH * max(1, len(lifelines))
    height = HEAD_HEIGHT + MARGIN * 2 + ROW_HEIGHT * (len(arrows) + 1)

    def x_of(role: str, fallback: int) -> int:
        index = min(lanes.get(role, fallback), len(lifelines) - 1) if lifelines else 0
        return MARGIN + LANE_WIDTH * max(0, index) + LANE_WIDTH // 2

    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sequence" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        "<defs>"
        + "".join(
            f'<marker id="head-{o}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
            f'markerHeight="8" orient="auto-start-reverse">'
            f'<path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead head-{o}"/></marker>'
            for o in OUTCOMES
        )
        + "</defs>",
    ]
    bottom = height - MARGIN
    for i, line in enumerate(lifelines):
        x = x_of(line.role, i)
        parts.append(
            f'<g class="lifeline" data-role="{escape(line.role)}">'
            f'<rect x="{x - LANE_WIDTH // 2 + 6}" y="{MARGIN}" width="{LANE_WIDTH - 12}" '
            f'height="{HEAD_HEIGHT - 6}" rx="4" class="lifeline-head"/>'
            f'<text x="{x}" y="{MARGIN + 17}" class="role">'
            f"{escape(_short(line.role or '?'))}</text>"
            f'<text x="{x}" y="{MARGIN + 33}" class="system">'
            f"{escape(_short(line.system or '?'))}</text>"
            f'<line x1="{x}" y1="{MARGIN + HEAD_HEIGHT}" x2="{x}" y2="{bottom}" '
            'class="lifeline-line"/></g>'
        )
    for n, arrow in enumerate(arrows):
        y = MARGIN + HEAD_HEIGHT + ROW_HEIGHT * (n + 1)
        x1 = x_of(arrow.sender, 0)  # diagram_for gives every party a lifeline
        x2 = x_of(arrow.receiver, len(lifelines) - 1)
        outcome = arrow.outcome if arrow.outcome in OUTCOMES else "pending"
        cls = f"arrow {arrow.kind} outcome-{outcome}"
        label_x = (x1 + x2) // 2
        if x1 == x2:  # a role talking to itself: a small loop to the right
            path = (
                f'<path d="M {x1} {y - 8} h 30 v 16 h -30" class="line" fill="none" '
                f'marker-end="url(#head-{outcome})"/>'
            )
            label_x = x1 + 36
            anchor = ' text-anchor="start"'
        else:
            path = (
                f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" class="line" '
                f'marker-end="url(#head-{outcome})"/>'
            )
            anchor = ""
        parts.append(
            f'<a href="{escape(arrow.href)}" class="{cls}" data-kind="{arrow.kind}" '
            f'data-outcome="{outcome}"><title>{escape(arrow.label)} ({outcome})</title>'
            f"{path}"
            f'<text x="{label_x}" y="{y - 6}" class="label"{anchor}>'
            f"{escape(_short(arrow.label))}</text></a>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def sequence_svg(
    instance: TestInstance,
    steps: Sequence[InstanceStep],
    exchanges: Sequence[RecordedExchange],
    title: str,
    roles_order: Sequence[str] = (),
) -> Markup:
    lifelines, arrows = diagram_for(instance, steps, exchanges, roles_order)
    return render_svg(lifelines, arrows, title)
