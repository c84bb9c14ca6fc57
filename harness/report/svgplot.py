"""What every matplotlib picture in a kcert report shares: SVG bytes without a creation date,
and the axes finished the same way (a "no data" note, or the legend).

The callers set their own rc parameters (a fixed `svg.hashsalt`, `svg.fonttype: none`) so the
files are reproducible and their text is text, also in the PDF.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def svg_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def finish_axes(
    ax: Axes,
    no_data: str,
    has_data: bool,
    legend: bool = True,
    where: Literal["best", "upper left"] = "best",
) -> None:
    """A figure without data says so in its middle; one with data gets its legend."""
    if not has_data:
        ax.text(0.5, 0.5, no_data, transform=ax.transAxes, ha="center", va="center")
    elif legend:
        ax.legend(loc=where, fontsize=7)
