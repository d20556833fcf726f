"""Bar charts drawn on the server as SVG (no script, so they print and pass the Content-Security-Policy):
claimed, agreed and paid per group, on an axis in pounds with its ticks and both axes labelled."""

from __future__ import annotations

from dataclasses import dataclass

from domain.report_breakdown import Group

SERIES = (
    ("claimed_pence", "Claimed", "#005eb8"),
    ("agreed_pence", "Agreed", "#007f3b"),
    ("paid_pence", "Paid", "#330072"),
)
LABEL_WIDTH = 300
PLOT_WIDTH = 520
BAR = 9
GAP = 10


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    colour: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_bottom: int
    bars: list[Bar]
    labels: list[tuple[int, str]]  # y, group label
    ticks: list[tuple[int, str]]  # x, "£1,000"
    y_title: str
    x_title: str
    legend: list[tuple[str, str]]


def _nice_step(top_pounds: int) -> int:
    """A round tick step in pounds giving four to eight ticks."""
    step = 1
    while top_pounds / step > 8:
        for factor in (2, 5 / 2, 2):  # 1, 2, 5, 10, 20, 50, ...
            step = int(step * factor)
            if top_pounds / step <= 8:
                break
    return max(step, 1)


def _pounds(pounds: int) -> str:
    return f"£{pounds:,}"


def bar_chart(groups: list[Group], y_title: str) -> Chart:
    widest = max((getattr(g, key) for g in groups for key, _, _ in SERIES), default=0)
    top_pounds = max((widest + 99) // 100, 1)
    step = _nice_step(top_pounds)
    top_pounds = -(-top_pounds // step) * step
    row = len(SERIES) * BAR + GAP
    plot_top = 30
    plot_bottom = plot_top + row * len(groups)
    scale = PLOT_WIDTH / (top_pounds * 100)
    bars, labels = [], []
    for i, group in enumerate(groups):
        y0 = plot_top + i * row
        labels.append((y0 + (row - GAP) // 2 + 4, group.label[:38]))
        for j, (key, name, colour) in enumerate(SERIES):
            pence = getattr(group, key)
            pounds, pennies = divmod(pence, 100)
            bars.append(
                Bar(
                    x=LABEL_WIDTH,
                    y=y0 + j * BAR,
                    width=round(pence * scale),
                    colour=colour,
                    title=f"{group.label}: {name.lower()} £{pounds:,}.{pennies:02d}",
                )
            )
    ticks = [(LABEL_WIDTH + round(p * 100 * scale), _pounds(p)) for p in range(0, top_pounds + 1, step)]
    return Chart(
        width=LABEL_WIDTH + PLOT_WIDTH + 40,
        height=plot_bottom + 50,
        plot_left=LABEL_WIDTH,
        plot_bottom=plot_bottom,
        bars=bars,
        labels=labels,
        ticks=ticks,
        y_title=y_title,
        x_title="Amount (£)",
        legend=[(colour, name) for _, name, colour in SERIES],
    )
