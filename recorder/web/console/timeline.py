"""The call's timeline as SVG shapes, laid out here and drawn by ``templates/console/_timeline.html``: one
lane per participant (present, each prompt and answer), one for ACS's recording state, and every interval
recorded while someone present had not consented in red with its length. No script: the picture is a
viewBox that scales to its container."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from recorder.services.queries import exposure as ex
from recorder.services.queries.story import Lane, Story

WIDTH, LABEL, LANE, TOP = 1000.0, 190.0, 44.0, 34.0
MIN_WIDTH = 2.0  # a few ms in a long call still shows


@dataclass(frozen=True)
class Shape:
    kind: str  # css class: present, consented, recording, exposure, prompt, answer-<outcome>
    x: float
    y: float
    w: float = 0.0
    h: float = 0.0
    title: str = ""
    ms: float | None = None


@dataclass
class Picture:
    height: float
    labels: list[tuple[float, str]] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    shapes: list[Shape] = field(default_factory=list)

    @property
    def exposures(self) -> list[Shape]:
        return [s for s in self.shapes if s.kind == "exposure"]


class Scale:
    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.seconds = max((end - start).total_seconds(), 0.001)

    def x(self, at: datetime) -> float:
        share = (at - self.start).total_seconds() / self.seconds
        return LABEL + min(max(share, 0.0), 1.0) * (WIDTH - LABEL - 10)

    def bar(self, span: ex.Span) -> tuple[float, float]:
        left = self.x(span.start)
        return left, max(self.x(span.end) - left, MIN_WIDTH)


def picture(story: Story, zone: tzinfo) -> Picture:
    scale = Scale(story.start, story.end)
    result = Picture(TOP + LANE * len(story.lanes) + 8)
    for n in range(5):
        at = story.start + (story.end - story.start) * (n / 4)
        result.ticks.append((scale.x(at), at.astimezone(zone).strftime("%H:%M:%S")))
    exposed = story.exposure.spans if story.exposure else []
    for i, lane in enumerate(story.lanes):
        y = TOP + LANE * i
        result.labels.append((y + LANE / 2, lane.label))
        if lane.kind == "recording":
            result.shapes.extend(_recording(scale, lane, exposed, y))
        else:
            result.shapes.extend(_person(scale, lane, y, zone))
    return result


def _recording(scale: Scale, lane: Lane, exposed: list[ex.Span], y: float) -> list[Shape]:
    shapes = []
    for span in lane.on:
        x, w = scale.bar(span)
        shapes.append(Shape("recording", x, y + 14, w, 16, f"recording {span.ms:.0f} ms"))
    for span in exposed:
        x, w = scale.bar(span)
        title = f"recorded without consent: {span.ms:.1f} ms"
        shapes.append(Shape("exposure", x, y + 10, w, 24, title, round(span.ms, 1)))
    return shapes


def _person(scale: Scale, lane: Lane, y: float, zone: tzinfo) -> list[Shape]:
    shapes = []
    for span in lane.on:
        x, w = scale.bar(span)
        shapes.append(Shape("present", x, y + 16, w, 12, "present"))
    for at, kind, label in lane.marks:
        when = at.astimezone(zone).strftime("%H:%M:%S.%f")[:-3]
        if kind == "prompt":
            shapes.append(Shape("prompt", scale.x(at), y + 8, title=f"prompted ({label}) at {when}"))
        else:
            shapes.append(Shape(f"answer-{label}", scale.x(at), y + 22, title=f"{label} at {when}"))
    return shapes
