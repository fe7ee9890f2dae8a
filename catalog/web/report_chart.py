"""The notice report's chart as geometry: grouped horizontal bars per institution, drawn by the template as
inline SVG (server-rendered, no script). Pure: report rows in, bars and labels out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.consent import InstitutionReport

#: The four counts of the seed's Table 7, in its order, with their fill colours (dark enough for 3:1
#: against white, told apart by position and legend as well as by colour).
SERIES: tuple[tuple[str, str], ...] = (
    ("sent", "#1f5f99"),
    ("undelivered", "#8a5a00"),
    ("opted_out", "#a3262e"),
    ("deceased", "#4d4d4d"),
)
LABEL_WIDTH = 170
BAR_AREA = 420
BAR_HEIGHT = 12
BAR_GAP = 3
GROUP_GAP = 16
TOP = 8
VALUE_ROOM = 70


@dataclass(frozen=True)
class Bar:
    series: str
    colour: str
    x: int
    y: int
    width: int
    height: int
    value: int
    label_x: int


@dataclass(frozen=True)
class Group:
    institution: str
    label_y: int
    bars: list[Bar]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    groups: list[Group]
    axis_x: int


def chart_of(rows: Sequence[InstitutionReport]) -> Chart:
    """Bars for every institution (the ALL row is in the table only: it would dwarf the others)."""
    shown = [r for r in rows if r.institution != "ALL"]
    peak = max((getattr(r, name) for r in shown for name, _ in SERIES), default=0) or 1
    groups: list[Group] = []
    y = TOP
    for r in shown:
        bars = []
        for i, (name, colour) in enumerate(SERIES):
            value = int(getattr(r, name))
            width = round(BAR_AREA * value / peak)
            top = y + i * (BAR_HEIGHT + BAR_GAP)
            bars.append(Bar(name, colour, LABEL_WIDTH, top, width, BAR_HEIGHT, value, LABEL_WIDTH + width + 4))
        group_height = len(SERIES) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP
        groups.append(Group(r.institution, y + group_height // 2 + 4, bars))
        y += group_height + GROUP_GAP
    return Chart(LABEL_WIDTH + BAR_AREA + VALUE_ROOM, max(y - GROUP_GAP + TOP, 2 * TOP), groups, LABEL_WIDTH)
