"""One self-contained HTML page for an execution, the way the Step Functions console shows it.

``render_page`` draws the state machine (laid out by grandalf's Sugiyama layout, as inline SVG),
colours each state by what happened to it in this execution, and lists the path taken, every
history event and, on demand, each state's input and output. The page fetches nothing: inline
CSS and SVG, and a few lines of optional JavaScript (it reads the same without them).

Everything that comes from the execution (inputs, outputs, errors, causes, even state names) is
attacker-controlled text: it is only ever written through :func:`_e` / :func:`_t`
(``html.escape``), never into a ``<script>`` or ``<style>``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from grandalf.graphs import Edge, Graph, Vertex  # type: ignore[import-untyped]
from grandalf.layouts import SugiyamaLayout  # type: ignore[import-untyped]

from spotdrain_cli.history import _json as _parse

MAX_VALUE_CHARS = 20_000  # each displayed input, output or cause
IO_BUDGET_CHARS = 1_500_000  # all inputs and outputs of a page together
MAX_VISIT_ROWS = 3_000  # rows of the path table (the first and the last half)
MAX_EVENT_ROWS = 5_000  # rows of the event table (the first and the last half)
DEDUPE_OVER = 600  # an input equal to the previous output is shown once when longer than this
ALWAYS_IO = 40  # the first and last visits whose input/output are always kept

START = "\x00start"  # pseudo-states: never a state name (ASL names are printable)
END = "\x00end"
MARGIN = 24
NODE_H = 44
NODE_H_NOTE = 60
TERMINAL = frozenset({"Succeed", "Fail"})

# what happened to a state, for its colour: (css class, legend text)
LEGEND = [
    ("succeeded", "Succeeded"),
    ("retried", "Succeeded after retries (↻ n)"),
    ("caught", "Error caught: failure branch followed"),
    ("failed", "Failed here (✗)"),
    ("endfail", "Fail state reached"),
    ("running", "Running"),
    ("aborted", "Aborted or timed out here"),
    ("unreached", "Not reached"),
]


# --- escaping ------------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _clean(text: Any) -> str:
    """Printable, encodable text: control characters and lone surrogates made visible."""
    flat = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
    return flat.encode("utf-8", "backslashreplace").decode("utf-8")


def _e(text: Any) -> str:
    """Escaped for an attribute value or element content."""
    return html.escape(_clean(text), quote=True)


def _t(text: Any) -> str:
    """Escaped for element content only (quotes kept: JSON stays half the size)."""
    return html.escape(_clean(text), quote=False)


def _short(text: Any, limit: int = 160) -> str:
    flat = " ".join(str(text if text is not None else "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _message(cause: Any) -> str:
    """A Lambda error's errorMessage, else the cause as it is."""
    parsed = _parse(cause)
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        return str(parsed["errorMessage"])
    return str(cause if cause is not None else "")


def _pretty(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """Pretty-printed JSON (or the text as it is), cut at ``limit`` characters with a note."""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > limit:
        text = text[:limit] + f"\n… cut: {len(text):,} characters in all, the first {limit:,} shown"
    return text


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _stamp(value: Any) -> str:
    when = _when(value)
    if when is None:
        return "—"
    if when.tzinfo is not None:
        return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.1f} s"
    whole = round(value)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def _offset(when: Any, base: datetime | None) -> str:
    moment = _when(when)
    if moment is None or base is None:
        return "—"
    try:
        return "t+" + _seconds(max(0.0, (moment - base).total_seconds()))
    except TypeError:  # naive and aware
        return "—"


def _size(text: Any) -> str:
    count = len(text) if isinstance(text, str) else len(json.dumps(text, default=str))
    return f"{count} B" if count < 1024 else f"{count / 1024:.1f} KB"


# --- text metrics (Arial/Helvetica/Liberation Sans, per 1000 em) ----------------------------------
_NARROW = {**dict.fromkeys("ijl.,:;|!'`", 230), **dict.fromkeys("ftI()[] -/", 330), "r": 340}
_WIDE = {**dict.fromkeys("mwMW@", 870), **dict.fromkeys("ABCDGHKNOQRUVXY&", 730)}


def _text_width(text: str, size: float, bold: bool = False) -> float:
    total = 0
    for char in text:
        if char in _NARROW:
            total += _NARROW[char]
        elif char in _WIDE:
            total += _WIDE[char]
        elif ord(char) > 0x2000:
            total += 1000  # symbols fall back to a wider font
        elif char.isupper():
            total += 680
        else:
            total += 560
    return total * size / 1000 * (1.08 if bold else 1.0)


# --- the graph -----------------------------------------------------------------------------------
@dataclass
class _Node:
    name: str
    type: str
    status: str = "unreached"
    caught: bool = False  # its (last) error was caught: the failure branch followed
    visits: list[int] = field(default_factory=list)  # indexes into analysis["states"]
    retries: int = 0
    note: str = ""
    kicker: str = ""
    link: int | None = None  # the visit the node links to
    title: str = ""
    w: float = 0.0
    h: float = 0.0
    x: float = 0.0  # centre
    y: float = 0.0


@dataclass
class _Link:
    src: str
    dst: str
    kind: str  # next | choice | default | catch | start | end
    label: str = ""
    title: str = ""
    taken: bool = False
    points: list[tuple[float, float]] = field(default_factory=list)


class _View:
    """grandalf's vertex/edge view: size in, position (vertex) or route (edge) out."""

    def __init__(self, w: float = 0.0, h: float = 0.0) -> None:
        self.w = w
        self.h = h
        self.xy: tuple[float, float] = (0.0, 0.0)
        self.points: list[tuple[float, float]] = []

    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.points = [(float(x), float(y)) for x, y in points]


def _rule_label(rule: dict[str, Any], number: int) -> str:
    variable = str(rule.get("Variable", "")).removeprefix("$.")
    if variable:
        for key, value in rule.items():
            if key in {"Variable", "Next", "Comment"}:
                continue
            if key == "IsPresent":
                return f"{variable} {'present' if value else 'absent'}"
            op = "=" if key.endswith("Equals") else key
            shown = json.dumps(value) if not isinstance(value, str) else value
            return f"{variable} {op} {shown}"
    return f"rule {number}"


def _catch_label(catcher: dict[str, Any]) -> str:
    errors = [str(e) for e in catcher.get("ErrorEquals", []) if e]
    if len(errors) == 1:
        return f"Catch {errors[0]}"
    return f"Catch ({len(errors)} errors)"


def _links(states: dict[str, Any], start_at: Any) -> list[_Link]:
    links: list[_Link] = []
    if start_at in states:
        links.append(_Link(START, str(start_at), "start"))
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        if isinstance(state.get("Next"), str):
            links.append(_Link(name, state["Next"], "next"))
        for number, rule in enumerate(state.get("Choices") or [], start=1):
            if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                label = _rule_label(rule, number)
                links.append(_Link(name, rule["Next"], "choice", _short(label, 30), label))
        if isinstance(state.get("Default"), str):
            links.append(_Link(name, state["Default"], "default", "Default", "Default"))
        for catcher in state.get("Catch") or []:
            if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
                errors = ", ".join(str(e) for e in catcher.get("ErrorEquals", []))
                links.append(_Link(name, catcher["Next"], "catch", _catch_label(catcher), f"Catch: {errors}"))
        if state.get("End") is True and state.get("Type") not in TERMINAL:
            links.append(_Link(name, END, "end"))
    known = set(states) | {START, END}
    return [link for link in links if link.dst in known]


def _status(node: _Node, visits: list[dict[str, Any]], analysis: dict[str, Any]) -> None:
    """Colour, note and link of a node from its visits (the last one counts; failed beats all)."""
    mine = [visits[i] for i in node.visits]
    node.retries = sum(int(v.get("retries") or 0) for v in mine)
    count = len(mine)
    node.kicker = node.type.upper() + (f" · {count} visits" if count > 1 else "")
    if not mine:
        node.status = "unreached"
        return
    last = mine[-1]
    result = str(last.get("result"))
    node.link = node.visits[-1]
    notes: list[str] = []
    if analysis.get("status") == "FAILED" and analysis.get("failed_state") == node.name:
        node.status = "failed"
        failing = [i for i in node.visits if visits[i].get("result") in {"failed", "caught"}]
        node.link = failing[-1] if failing else node.link
        node.caught = result == "caught"
        notes.append("✗ failed here" + (" · caught" if node.caught else ""))
    elif result == "failed":
        node.status = "failed"
        notes.append("✗ failed here")
    elif result in {"aborted", "timed out"}:
        node.status = "aborted"
        notes.append("⌛ timed out here" if result == "timed out" else "■ aborted here")
    elif result == "running":
        node.status = "running"
        notes.append("● running")
    elif result == "caught":
        node.status, node.caught = "caught", True
        notes.append("⚠ error caught")
    elif result == "ended" and node.type == "Fail":
        node.status = "endfail"
    else:
        node.status = "retried" if node.retries else "succeeded"
        earlier = sorted({int(v.get("run") or 0) for v in mine if v.get("result") == "failed"})
        if earlier:
            notes.append("✗ failed in run " + ", ".join(str(r) for r in earlier))
    if node.retries:
        notes.append(f"↻ {node.retries} retr{'y' if node.retries == 1 else 'ies'}")
    node.note = " · ".join(notes)


def _size_node(node: _Node) -> None:
    if node.name in {START, END}:
        node.w, node.h = 64.0, 28.0
        return
    widest = max(
        _text_width(node.name, 13.5, bold=True),
        _text_width(node.kicker, 10.5),
        _text_width(node.note, 11.5, bold=True),
    )
    extra = 34 if node.type == "Choice" else 24
    node.w = float(math.ceil(max(116.0, widest + extra)))
    node.h = float(NODE_H_NOTE if node.note else NODE_H)


def _layout(nodes: dict[str, _Node], links: list[_Link]) -> None:
    """Place nodes and route links with grandalf's Sugiyama layout (components side by side)."""
    vertices = {name: Vertex(name) for name in nodes}
    for name, vertex in vertices.items():
        vertex.view = _View(nodes[name].w, nodes[name].h)
    pairs: dict[tuple[str, str], Any] = {}
    for link in links:
        key = (link.src, link.dst)
        if link.src != link.dst and key not in pairs:
            pairs[key] = Edge(vertices[link.src], vertices[link.dst])
            pairs[key].view = _View()
    graph = Graph(list(vertices.values()), list(pairs.values()))
    order = {name: index for index, name in enumerate(nodes)}
    left = 0.0
    for component in sorted(graph.C, key=lambda c: min(order[v.data] for v in c.sV)):
        members = sorted(component.sV, key=lambda v: order[v.data])
        roots = [v for v in members if not v.e_in()] or members[:1]
        sugiyama = SugiyamaLayout(component)
        sugiyama.xspace = 44
        sugiyama.yspace = 66
        sugiyama.init_all(roots=roots)
        sugiyama.draw(N=4.5)
        _straighten(sugiyama)
        placed = [v for layer in sugiyama.layers for v in layer]  # with the edges' dummy vertices
        dx = left - min(v.view.xy[0] - v.view.w / 2 for v in placed)
        dy = -min(v.view.xy[1] - v.view.h / 2 for v in placed)
        for vertex in members:
            node = nodes[vertex.data]
            node.x, node.y = vertex.view.xy[0] + dx, vertex.view.xy[1] + dy
        for edge in component.sE:
            edge.view.points = [(x + dx, y + dy) for x, y in edge.view.points]
        left = max(v.view.xy[0] + v.view.w / 2 for v in placed) + dx + 70
    _route(nodes, links, pairs)


def _straighten(sugiyama: Any) -> None:
    """Use the straightest of the layout's four Brandes-Köpf alignments.

    grandalf places each vertex at the mean of the two median x of its four alignments (up/down,
    left/right), which bends a long chain of states into a staircase. Each alignment alone is a
    valid placement (same layers, same order, same spacing): take the one with the most vertical
    edge segments, then the narrowest, then the shortest edges; and route the edges again."""
    every = [v for layer in sugiyama.layers for v in layer]
    chains = []
    for edge in sugiyama.g.sE:
        chain = [edge.v[0]]
        if edge in sugiyama.ctrls:
            dummies = sugiyama.ctrls[edge]
            r0, r1 = sugiyama.grx[edge.v[0]].rank, sugiyama.grx[edge.v[1]].rank
            chain += [dummies[r] for r in (range(r0 + 1, r1) if r0 < r1 else range(r0 - 1, r1, -1))]
        chains.append([*chain, edge.v[1]])

    def score(xs: dict[Any, float]) -> tuple[int, float, float]:
        segments = [(xs[a], xs[b]) for chain in chains for a, b in itertools.pairwise(chain)]
        straight = sum(abs(a - b) < 0.5 for a, b in segments)
        width = max(xs[v] + v.view.w / 2 for v in every) - min(xs[v] - v.view.w / 2 for v in every)
        return (-straight, round(width), sum(abs(a - b) for a, b in segments))

    candidates = [{v: float(v.view.xy[0]) for v in every}]
    candidates += [{v: float(sugiyama.grx[v].x[k]) for v in every} for k in range(4)]
    best = min(candidates, key=score)
    for vertex in every:
        vertex.view.xy = (best[vertex], vertex.view.xy[1])
    sugiyama.draw_edges()


def _shape(node: _Node) -> list[tuple[float, float]]:
    """The node's outline as a convex polygon (pills and rounded ends approximated)."""
    x0, y0 = node.x - node.w / 2, node.y - node.h / 2
    x1, y1 = node.x + node.w / 2, node.y + node.h / 2
    if node.type == "Choice":
        return [(x0 + 14, y0), (x1 - 14, y0), (x1, node.y), (x1 - 14, y1), (x0 + 14, y1), (x0, node.y)]
    if node.type in TERMINAL or node.name in {START, END}:
        radius = node.h / 2
        arc: list[tuple[float, float]] = []
        for centre, start in ((x1 - radius, -90), (x0 + radius, 90)):
            for step in range(7):
                angle = math.radians(start + step * 30)
                arc.append((centre + radius * math.cos(angle), node.y + radius * math.sin(angle)))
        return arc
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _clip(
    polygon: list[tuple[float, float]], inside: tuple[float, float], towards: tuple[float, float]
) -> tuple[float, float]:
    """Where the segment from a point inside the polygon towards another leaves it."""
    (ax, ay), (bx, by) = inside, towards
    best = 1.0
    for index, (px, py) in enumerate(polygon):
        qx, qy = polygon[(index + 1) % len(polygon)]
        denominator = (bx - ax) * (qy - py) - (by - ay) * (qx - px)
        if abs(denominator) < 1e-9:
            continue
        t = ((px - ax) * (qy - py) - (py - ay) * (qx - px)) / denominator
        u = ((px - ax) * (by - ay) - (py - ay) * (bx - ax)) / denominator
        if 0 <= t <= best and -1e-9 <= u <= 1 + 1e-9:
            best = t
    return (ax + (bx - ax) * best, ay + (by - ay) * best)


def _route(nodes: dict[str, _Node], links: list[_Link], pairs: dict[tuple[str, str], Any]) -> None:
    """Each link along its layout edge's points, ends on the boxes; parallel links side by side."""
    bundles: dict[frozenset[str], list[_Link]] = {}
    for link in links:
        bundles.setdefault(frozenset((link.src, link.dst)), []).append(link)
    for bundle in bundles.values():
        for index, link in enumerate(bundle):
            src, dst = nodes[link.src], nodes[link.dst]
            if link.src == link.dst:
                x1, y = src.x + src.w / 2, src.y
                out, back = _clip(_shape(src), (src.x, y - 8), (x1 + 30, y - 8)), (x1 + 30, y - 14)
                home = _clip(_shape(src), (src.x, y + 8), (x1 + 30, y + 8))
                link.points = [out, back, (x1 + 30, y + 14), home]
                continue
            edge = pairs.get((link.src, link.dst)) or pairs[(link.dst, link.src)]
            route = list(edge.view.points) or [(src.x, src.y), (dst.x, dst.y)]
            if math.dist(route[0], (src.x, src.y)) > math.dist(route[0], (dst.x, dst.y)):
                route.reverse()  # the layout edge runs the other way
            shift = (index - (len(bundle) - 1) / 2) * 16
            limit = min(src.w, dst.w) / 2 - 16
            shift = max(-limit, min(limit, shift))
            inner = [(x + shift, y) for x, y in route[1:-1]]
            first = (src.x + shift, src.y)
            last = (dst.x + shift, dst.y)
            after = inner[0] if inner else last
            before = inner[-1] if inner else first
            start = _clip(_shape(src), first, after)
            end = _clip(_shape(dst), last, before)
            link.points = [start, *inner, end]


def _place_labels(nodes: dict[str, _Node], links: list[_Link]) -> list[tuple[_Link, float, float, float]]:
    """A spot on each labelled link, as clear as can be of boxes and of the labels placed before it."""
    boxes = [
        (n.x - n.w / 2 - 2, n.y - n.h / 2 - 2, n.x + n.w / 2 + 2, n.y + n.h / 2 + 2) for n in nodes.values()
    ]
    fractions = sorted((step / 40 for step in range(4, 37)), key=lambda f: abs(f - 0.5))
    placed: list[tuple[float, float, float, float]] = []
    spots: list[tuple[_Link, float, float, float]] = []
    for link in links:
        if not link.label or len(link.points) < 2:
            continue
        width = _text_width(link.label, 10.5) + 10
        lengths = [math.dist(a, b) for a, b in itertools.pairwise(link.points)]
        total = sum(lengths) or 1.0

        def cost(spot: tuple[float, float], half: float = width / 2) -> float:
            rect = (spot[0] - half, spot[1] - 8, spot[0] + half, spot[1] + 8)
            return 3 * sum(_overlap(rect, box) for box in boxes) + sum(_overlap(rect, o) for o in placed)

        # the first of the least covered spots, from the middle of the link outwards
        x, y = min((_along(link.points, lengths, total * f) for f in fractions), key=cost)
        placed.append((x - width / 2, y - 8, x + width / 2, y + 8))
        spots.append((link, x, y, width))
    return spots


def _along(points: list[tuple[float, float]], lengths: list[float], distance: float) -> tuple[float, float]:
    for (a, b), length in zip(itertools.pairwise(points), lengths, strict=False):
        if distance <= length and length > 0:
            ratio = distance / length
            return (a[0] + (b[0] - a[0]) * ratio, a[1] + (b[1] - a[1]) * ratio)
        distance -= length
    return points[-1]


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """The area two rectangles (x0, y0, x1, y1) share."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _path(points: list[tuple[float, float]]) -> str:
    """A polyline whose inner corners are rounded."""
    parts = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for index in range(1, len(points) - 1):
        (ax, ay), (bx, by), (cx, cy) = points[index - 1], points[index], points[index + 1]
        before = min(18.0, math.dist((ax, ay), (bx, by)) / 2)
        after = min(18.0, math.dist((bx, by), (cx, cy)) / 2)
        p = _toward((bx, by), (ax, ay), before)
        q = _toward((bx, by), (cx, cy), after)
        parts.append(f"L{p[0]:.1f},{p[1]:.1f} Q{bx:.1f},{by:.1f} {q[0]:.1f},{q[1]:.1f}")
    parts.append(f"L{points[-1][0]:.1f},{points[-1][1]:.1f}")
    return " ".join(parts)


def _toward(a: tuple[float, float], b: tuple[float, float], distance: float) -> tuple[float, float]:
    length = math.dist(a, b) or 1.0
    return (a[0] + (b[0] - a[0]) * distance / length, a[1] + (b[1] - a[1]) * distance / length)


def _taken(visits: list[dict[str, Any]]) -> set[tuple[str, str, bool]]:
    """Transitions this execution made: (from, to, through a Catch)."""
    taken: set[tuple[str, str, bool]] = set()
    if visits and int(visits[0].get("run") or 0) == 0:
        taken.add((START, str(visits[0].get("name")), False))
    for before, after in itertools.pairwise(visits):
        if before.get("run") == after.get("run"):
            caught = before.get("result") == "caught"
            taken.add((str(before.get("name")), str(after.get("name")), caught))
    for visit in visits:
        if visit.get("exited") and visit.get("result") in {"succeeded", "caught"}:
            taken.add((str(visit.get("name")), END, False))
    return taken


def _graph(definition: dict[str, Any], analysis: dict[str, Any]) -> tuple[str, set[str]]:
    """The state machine as inline SVG, coloured by this execution; and the states it draws."""
    states = definition.get("States")
    states = states if isinstance(states, dict) else {}
    links = _links(states, definition.get("StartAt"))
    visits: list[dict[str, Any]] = list(analysis.get("states") or [])
    nodes: dict[str, _Node] = {}
    if any(link.src == START for link in links):
        nodes[START] = _Node(START, "Start")
    for name, state in states.items():
        kind = str(state.get("Type", "?")) if isinstance(state, dict) else "?"
        nodes[name] = _Node(name, kind)
    if any(link.dst == END for link in links):
        nodes[END] = _Node(END, "End")
    for index, visit in enumerate(visits):
        name = str(visit.get("name"))
        if name in nodes and name not in {START, END}:
            nodes[name].visits.append(index)
    for node in nodes.values():
        if node.name not in {START, END}:
            _status(node, visits, analysis)
        _size_node(node)
    taken = _taken(visits)
    for link in links:
        link.taken = (link.src, link.dst, link.kind == "catch") in taken
    if not nodes:
        return '<p class="muted">The definition has no states to draw.</p>', set()
    _layout(nodes, links)
    return _svg(nodes, links, visits), {n for n in nodes if n not in {START, END}}


def _node_svg(node: _Node, visits: list[dict[str, Any]]) -> str:
    x0, y0 = node.x - node.w / 2, node.y - node.h / 2
    box = f'data-x="{x0:.1f}" data-y="{y0:.1f}" data-w="{node.w:.1f}" data-h="{node.h:.1f}"'
    if node.name in {START, END}:
        label = "Start" if node.name == START else "End"
        return (
            f'<g class="node n-terminus" {box}><rect x="{x0:.1f}" y="{y0:.1f}" width="{node.w:.1f}" '
            f'height="{node.h:.1f}" rx="{node.h / 2:.1f}" class="shape"/>'
            f'<text x="{node.x:.1f}" y="{node.y + 4:.1f}" class="t-terminus">{label}</text></g>'
        )
    if node.type == "Choice":
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in _shape(node))
        shape = f'<polygon points="{points}" class="shape"/>'
    else:
        radius = {"Pass": 3.0, "Succeed": node.h / 2, "Fail": node.h / 2}.get(node.type, 9.0)
        shape = (
            f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{node.w:.1f}" height="{node.h:.1f}" '
            f'rx="{radius:.1f}" class="shape"/>'
        )
        if node.type in {"Parallel", "Map"}:
            shape += (
                f'<rect x="{x0 + 4:.1f}" y="{y0 + 4:.1f}" width="{node.w - 8:.1f}" height="{node.h - 8:.1f}" '
                f'rx="{radius - 3:.1f}" class="inner"/>'
            )
    top = y0 + (15 if node.note else 16)
    texts = [
        f'<text x="{node.x:.1f}" y="{top:.1f}" class="t-kicker">{_e(node.kicker)}</text>',
        f'<text x="{node.x:.1f}" y="{top + 17:.1f}" class="t-name">{_e(node.name)}</text>',
    ]
    if node.note:
        texts.append(f'<text x="{node.x:.1f}" y="{top + 33:.1f}" class="t-note">{_e(node.note)}</text>')
    title = f"{node.name} ({node.type}): " + (
        f"{node.status}, {len(node.visits)} visit{'s' if len(node.visits) != 1 else ''}"
        if node.visits
        else "not reached"
    )
    errors = [e for i in node.visits for e in visits[i].get("errors") or []]
    if errors:
        title += "\n" + "\n".join(
            _short(f"{e.get('error')}: {_message(e.get('cause'))}", 200) for e in errors[-3:]
        )
    group = (
        f'<g class="node n-{node.status}{" caught" if node.caught else ""}" data-state="{_e(node.name)}" '
        f'data-result="{node.status}" data-caught="{str(node.caught).lower()}" '
        f'data-visits="{len(node.visits)}" data-retries="{node.retries}" {box}>'
        f"<title>{_e(title)}</title>{shape}{''.join(texts)}</g>"
    )
    if node.link is not None:
        return f'<a href="#visit-{node.link + 1}" class="node-link">{group}</a>'
    return group


def _svg(nodes: dict[str, _Node], links: list[_Link], visits: list[dict[str, Any]]) -> str:
    labels = _place_labels(nodes, links)
    xs = [x for n in nodes.values() for x in (n.x - n.w / 2, n.x + n.w / 2)]
    ys = [y for n in nodes.values() for y in (n.y - n.h / 2, n.y + n.h / 2)]
    xs += [x for link in links for x, _ in link.points] + [
        x + s * w / 2 for _, x, _, w in labels for s in (-1, 1)
    ]
    ys += [y for link in links for _, y in link.points] + [
        y + s * 8 for _, _, y, _ in labels for s in (-1, 1)
    ]
    left, top = min(xs) - MARGIN, min(ys) - MARGIN
    w, h = max(xs) - left + MARGIN, max(ys) - top + MARGIN
    out = [
        f'<svg class="graph" width="{w:.0f}" height="{h:.0f}" '
        f'viewBox="{left:.0f} {top:.0f} {w:.0f} {h:.0f}" role="group" '
        'aria-label="The state machine, coloured by what happened to each state">',
        "<defs>",
    ]
    for name in ("taken", "idle", "caught"):
        out.append(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" '
            f'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" class="arrow-{name}"/></marker>'
        )
    out.append("</defs>")
    ordered = sorted(links, key=lambda link: link.taken)  # the path taken drawn on top
    for link in ordered:
        if len(link.points) < 2:
            continue
        state = "caught" if link.taken and link.kind == "catch" else "taken" if link.taken else "idle"
        classes = f"edge e-{link.kind} e-{'taken' if link.taken else 'idle'}"
        title = f"<title>{_e(link.title)}</title>" if link.title else ""
        src = "" if link.src in {START, END} else f' data-from="{_e(link.src)}"'
        dst = "" if link.dst in {START, END} else f' data-to="{_e(link.dst)}"'
        out.append(
            f'<path class="{classes}"{src}{dst} d="{_path(link.points)}" '
            f'marker-end="url(#arrow-{state})">{title}</path>'
        )
    for node in nodes.values():
        out.append(_node_svg(node, visits))
    for link, x, y, label_width in labels:
        kind = "catch" if link.kind == "catch" else "rule"
        out.append(
            f'<g class="label l-{kind}"><rect x="{x - label_width / 2:.1f}" y="{y - 8:.1f}" '
            f'width="{label_width:.1f}" height="16" rx="3"/>'
            f'<text x="{x:.1f}" y="{y + 3.5:.1f}">{_e(link.label)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)


# --- the page ------------------------------------------------------------------------------------
CSS = """
:root { --ink:#16191f; --muted:#5f6b7a; --line:#d5dbdb; --bg:#f2f3f3; --card:#fff;
  --ok:#1d8102; --okbg:#e3f4dc; --amber:#d69000; --orange:#ec7211; --orangebg:#ffe6cc;
  --red:#d13212; --redbg:#fbe3df; --blue:#0073bb; --bluebg:#dbeeff; --grey:#aab7b8; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, "Liberation Sans", sans-serif; }
header.top { background:#232f3e; color:#fff; padding:14px 24px; }
header.top h1 { margin:0; font-size:20px; font-weight:600; word-break:break-all; }
header.top .arn { color:#d1d5db; font-size:12.5px; font-family:ui-monospace, Menlo, Consolas, monospace;
  word-break:break-all; }
main { padding:16px 24px 40px; max-width:1600px; }
section.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 18px;
  margin:0 0 16px; box-shadow:0 1px 1px rgba(0,28,36,.15); }
h2 { font-size:17px; margin:0 0 10px; }
.pill { display:inline-block; padding:1px 10px; border-radius:12px; font-weight:700; font-size:13px;
  border:1px solid transparent; white-space:nowrap; }
.s-SUCCEEDED,.r-succeeded,.r-ended { background:var(--okbg); color:#0b5200; border-color:var(--ok); }
.s-FAILED,.s-TIMED_OUT,.r-failed,.r-timed-out { background:var(--red); color:#fff; }
.s-ABORTED,.r-aborted { background:#545b64; color:#fff; }
.s-RUNNING,.r-running { background:var(--bluebg); color:#00446e; border-color:var(--blue); }
.r-caught { background:var(--orangebg); color:#6b3000; border-color:var(--orange); }
dl.facts { display:grid; grid-template-columns:repeat(auto-fill, minmax(190px, 1fr)); gap:8px 18px;
  margin:0; }
dl.facts .wide { grid-column:1 / -1; }
dl.facts dt { color:var(--muted); font-weight:600; font-size:12px; }
dl.facts dd { margin:0; word-break:break-word; font-size:14.5px; }
.error-box { border-left:5px solid var(--red); background:var(--redbg); padding:8px 12px; margin:10px 0 0;
  border-radius:4px; }
.error-box .name { font-weight:700; color:#8c1c07; }
.runs { margin:2px 0 0; padding:0; list-style:none; }
.legend { display:flex; flex-wrap:wrap; gap:6px 18px; margin:0 0 10px; font-size:13px; align-items:center; }
.legend .sw { display:inline-block; width:26px; height:15px; border-radius:4px; vertical-align:-3px;
  margin-right:6px; border:2px solid; }
.legend .edge-sw { display:inline-block; width:30px; vertical-align:middle; margin-right:6px;
  border-top:2px solid #2f3b48; }
.legend .edge-sw.idle { border-top-color:#b6bec9; }
.legend .edge-sw.catch { border-top:2px dashed var(--orange); }
.graph-wrap { overflow:auto; text-align:center; }
svg.graph { max-width:100%; height:auto; font-family:Arial, Helvetica, "Liberation Sans", sans-serif; }
svg.graph .shape { stroke-width:1.6; }
svg.graph text { text-anchor:middle; }
svg.graph .t-kicker { font-size:10.5px; letter-spacing:.4px; fill:#5f6b7a; }
svg.graph .t-name { font-size:13.5px; font-weight:700; fill:#16191f; }
svg.graph .t-note { font-size:11.5px; font-weight:700; }
svg.graph .t-terminus { font-size:12px; font-weight:700; fill:#fff; }
.n-terminus .shape { fill:#232f3e; stroke:#232f3e; }
.n-succeeded .shape, .sw.n-succeeded { fill:var(--okbg); background:var(--okbg); stroke:var(--ok);
  border-color:var(--ok); }
.n-retried .shape, .sw.n-retried { fill:var(--okbg); background:var(--okbg); stroke:var(--amber);
  border-color:var(--amber); }
.n-retried .shape { stroke-width:4; }
.n-retried .t-note { fill:#7a4d00; }
.n-caught .shape, .sw.n-caught { fill:var(--orangebg); background:var(--orangebg); stroke:var(--orange);
  border-color:var(--orange); }
.n-caught .shape { stroke-width:2.5; }
.n-caught .t-note { fill:#8a3b00; }
.n-failed .shape, .sw.n-failed { fill:var(--red); background:var(--red); stroke:#6e1306;
  border-color:#6e1306; }
.n-failed .shape { stroke-width:4; filter:drop-shadow(0 0 5px rgba(209,50,18,.7)); }
.n-failed text { fill:#fff !important; }
.n-failed.caught .shape { stroke:var(--orange); }
.n-endfail .shape, .sw.n-endfail { fill:var(--redbg); background:var(--redbg); stroke:var(--red);
  border-color:var(--red); }
.n-running .shape, .sw.n-running { fill:var(--bluebg); background:var(--bluebg); stroke:var(--blue);
  border-color:var(--blue); }
.n-running .shape { stroke-width:3; stroke-dasharray:7 4; animation:march 1s linear infinite; }
.n-running .t-note { fill:#00446e; }
@keyframes march { to { stroke-dashoffset:-11; } }
.n-aborted .shape, .sw.n-aborted { fill:#545b64; background:#545b64; stroke:#16191f; border-color:#16191f; }
.n-aborted text { fill:#fff !important; }
.n-unreached .shape, .sw.n-unreached { fill:#f4f5f6; background:#f4f5f6; stroke:#b6bec9;
  border-color:#b6bec9; }
.n-unreached .t-name { fill:#7d8998; font-weight:600; }
.n-unreached .t-kicker { fill:#98a2ad; }
svg.graph .inner { fill:none; stroke:inherit; stroke-width:1; opacity:.6; }
svg.graph .node-link:hover .shape { stroke-width:4; }
svg.graph .edge { fill:none; }
.e-taken { stroke:#2f3b48; stroke-width:2.2; }
.e-idle { stroke:#b6bec9; stroke-width:1.4; }
.e-catch { stroke-dasharray:6 4; }
.e-catch.e-taken { stroke:var(--orange); stroke-width:2.4; }
.arrow-taken { fill:#2f3b48; } .arrow-idle { fill:#b6bec9; } .arrow-caught { fill:var(--orange); }
svg.graph .label rect { fill:#fff; fill-opacity:.92; stroke:#d5dbdb; }
svg.graph .label text { font-size:10.5px; fill:#414d5c; }
svg.graph .l-catch text { fill:#a04a00; font-style:italic; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid #eaeded; vertical-align:top; }
th { background:#fafafa; position:sticky; top:0; z-index:1; border-bottom:1px solid var(--line); }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.mono, .mono { font-family:ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size:12px; }
td.errors { width:45%; }
tr.io td { border-bottom:1px solid #eaeded; padding:0 8px 2px 40px; }
tr.io summary { color:var(--blue); cursor:pointer; font-size:12px; }
tr.run-sep td { background:#eef4fa; font-weight:700; color:#00446e; }
tr.omitted td { color:var(--muted); font-style:italic; }
tr:target, tr.target { background:#fff7d6; }
tr.ev-fail td.type { color:var(--red); font-weight:700; }
.errors { color:#8c1c07; }
.io-grid { display:grid; grid-template-columns:1fr 1fr; gap:10px; margin:6px 0 10px; }
.io-grid h4 { margin:0 0 3px; font-size:12px; color:var(--muted); }
pre { margin:0; padding:8px 10px; background:#f8f9fa; border:1px solid #e3e6e8; border-radius:4px;
  max-height:480px; overflow:auto; white-space:pre-wrap; word-break:break-all; font-size:12px;
  font-family:ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; }
details > summary { cursor:pointer; }
details.events > summary { font-weight:700; font-size:15px; }
.muted { color:var(--muted); }
.note { color:var(--muted); font-size:12.5px; margin:6px 0; }
"""

SCRIPT = """
(function () {
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var row = id && document.getElementById(id);
    if (!row) { return; }
    var io = row.nextElementSibling;
    var more = io && io.classList.contains("io") && io.querySelector("details");
    if (more) { more.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
})();
"""


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


# nothing but this page's own style and script: nothing fetched, no injected script would run
CSP = f"default-src 'none'; style-src '{_sha256(CSS)}'; script-src '{_sha256(SCRIPT)}'"


def _header(execution_arn: str, analysis: dict[str, Any], events: list[dict[str, Any]]) -> str:
    status = str(analysis.get("status") or "RUNNING")
    runs: list[dict[str, Any]] = list(analysis.get("runs") or [])
    first = runs[0] if runs else {}
    last = runs[-1] if runs else {}
    started = first.get("started") or (events[0].get("timestamp") if events else None)
    stopped = last.get("ended") if status != "RUNNING" else None
    start_time, stop_time = _when(started), _when(stopped)
    took = (stop_time - start_time).total_seconds() if start_time and stop_time else None
    facts: list[tuple[str, str]] = [
        ("Execution ARN", f'<span class="mono">{_e(execution_arn)}</span>'),
        ("Status", f'<span class="pill s-{_e(status)}">{_e(status)}</span>'),
    ]
    if analysis.get("failed_state"):
        facts.append(("Failed at", f"<strong>{_e(analysis['failed_state'])}</strong>"))
    if analysis.get("outcome"):
        facts.append(("Ended in", _e(analysis["outcome"])))
    facts += [
        ("Started", _e(_stamp(started))),
        ("Stopped", _e(_stamp(stopped)) if stopped else "— (still running)"),
        ("Duration", _e(_seconds(took))),
        ("History events", f"{int(analysis.get('history_events') or len(events)):,}"),
        ("Retries", str(int(analysis.get("retries") or 0))),
        ("Redrives", str(int(analysis.get("redrives") or 0))),
    ]
    if len(runs) > 1:
        facts.append(("Runs", _runs(runs)))
    wide = {"Execution ARN", "Runs"}
    rows = "".join(
        f'<div class="fact{" wide" if label in wide else ""}"><dt>{label}</dt><dd>{value}</dd></div>'
        for label, value in facts
    )
    error = ""
    if analysis.get("error") or analysis.get("cause"):
        cause = analysis.get("cause")
        parsed = _parse(cause)
        message = _message(cause)
        kind = parsed.get("errorType") if isinstance(parsed, dict) else None
        extra = ""
        if kind and kind != analysis.get("error"):
            extra = f' <span class="muted">({_e(kind)})</span>'
        full = ""
        if cause and (not isinstance(parsed, dict) or set(parsed) - {"errorMessage", "errorType"}):
            full = f"<details><summary>Full cause</summary><pre>{_t(_pretty(parsed))}</pre></details>"
        error = (
            f'<div class="error-box"><span class="name">{_e(analysis.get("error") or "Error")}</span>{extra}'
            f"<div>{_e(_short(message, 2000))}</div>{full}</div>"
        )
    name = execution_arn.rsplit(":", 1)[-1]
    return (
        f'<header class="top"><h1>Execution {_e(name)} — {_e(status)}</h1>'
        f'<div class="arn">{_e(execution_arn)}</div></header>'
        f'<main><section class="card" id="summary"><h2>Summary</h2><dl class="facts">{rows}</dl>'
        f"{error}</section>"
    )


def _runs(runs: list[dict[str, Any]]) -> str:
    items = []
    for entry in runs:
        number = int(entry.get("run") or 0)
        what = f"run {number}" if number == 0 else f"redrive {number}"
        text = f"{what} {str(entry.get('status', 'RUNNING')).lower()}"
        if entry.get("failed_state"):
            text += f" at {entry['failed_state']}"
        if entry.get("error"):
            text += f" ({entry['error']})"
        items.append(f"<li>{_e(text)} <span class='muted'>{_e(_stamp(entry.get('started')))}</span></li>")
    return f'<ul class="runs">{"".join(items)}</ul>'


def _legend() -> str:
    items = [f'<span><span class="sw n-{key}"></span>{_e(text)}</span>' for key, text in LEGEND]
    items += [
        '<span><span class="edge-sw"></span>path taken</span>',
        '<span><span class="edge-sw idle"></span>not taken</span>',
        '<span><span class="edge-sw catch"></span>Catch (dashed), taken</span>',
    ]
    return f'<div class="legend" id="legend">{"".join(items)}</div>'


_Shown = tuple[str, str]  # (kind, text): kind "json", "same-as" (a visit number), "same-input", "none"


def _io_plan(visits: list[dict[str, Any]]) -> dict[int, tuple[_Shown, _Shown]]:
    """Each visit's input and output, as shown; a visit without is left out (a long history).

    Everything when the page can hold it. Else each value once: an input equal to the output
    before it, an output equal to its input, refer to it. Then, within the budget, the visits that
    went wrong, the first and the last visits, and as many of the others as fit."""
    full: dict[int, tuple[_Shown, _Shown]] = {}
    for index, visit in enumerate(visits):
        out: _Shown = ("json", _pretty(visit.get("output")))
        if visit.get("exited") is None and visit.get("output") is None:
            out = ("none", "")
        full[index] = (("json", _pretty(visit.get("input"))), out)
    if sum(len(a[1]) + len(b[1]) for a, b in full.values()) <= IO_BUDGET_CHARS:
        return full
    once = dict(full)
    previous = -1
    for index, visit in enumerate(visits):
        (_, text_in), shown_out = full[index]
        value_in = visit.get("input")
        if len(text_in) > DEDUPE_OVER:
            if previous >= 0 and value_in == visits[previous].get("output"):
                once[index] = (("same-as", str(previous + 1)), shown_out)
            if shown_out[0] == "json" and visit.get("output") == value_in:
                once[index] = (once[index][0], ("same-input", ""))
        if visit.get("exited") is not None:
            previous = index
    count = len(visits)
    troubled = [i for i, v in enumerate(visits) if v.get("errors") or v.get("result") != "succeeded"]
    ends = [i for i in range(count) if i < ALWAYS_IO or i >= count - ALWAYS_IO]
    kept: dict[int, tuple[_Shown, _Shown]] = {}
    spent = 0
    for index in dict.fromkeys([*troubled, *ends, *range(count)]):
        cost = len(once[index][0][1]) + len(once[index][1][1])
        if spent + cost <= IO_BUDGET_CHARS or index in troubled:
            kept[index] = once[index]
            spent += cost
    for index, (shown_in, shown_out) in kept.items():
        if shown_in[0] == "same-as" and int(shown_in[1]) - 1 not in kept:  # refer to nothing left out
            kept[index] = (full[index][0], shown_out)
    return kept


def _io_cell(index: int, visit: dict[str, Any], shown: tuple[_Shown, _Shown] | None) -> str:
    name = _e(visit.get("name"))
    if shown is None:
        return (
            f'<details><summary>input / output of {name}</summary><p class="note">Left out to keep '
            "this page small (a long history): <code>spotdrain history ARN --json</code> prints every "
            "state's input and output.</p></details>"
        )

    def block(kind: str, text: str) -> str:
        if kind == "same-as":
            other = int(text)
            return f'<p class="note">Same as the output of <a href="#visit-{other}">#{other}</a>.</p>'
        if kind == "same-input":
            return '<p class="note">Same as the input.</p>'
        if kind == "none":
            return '<p class="note">None yet: the state has not exited.</p>'
        return f"<pre>{_t(text)}</pre>"

    return (
        f"<details><summary>input / output of {name} (#{index + 1})</summary>"
        f'<div class="io-grid"><div><h4>Input</h4>{block(*shown[0])}</div>'
        f"<div><h4>Output</h4>{block(*shown[1])}</div></div></details>"
    )


def _visit_rows(
    visits: list[dict[str, Any]], base: datetime | None, redriven: bool, drawn: set[str]
) -> list[str]:
    plan = _io_plan(visits)
    columns = 9 if redriven else 8
    rows: list[str] = []
    keep = _kept_rows(len(visits), MAX_VISIT_ROWS)
    run = 0
    for index, visit in enumerate(visits):
        if index not in keep:
            if index - 1 in keep:
                left = len(visits) - len(keep)
                rows.append(
                    f'<tr class="omitted"><td colspan="{columns}">… {left:,} visits not listed '
                    "(the first and the last are): <code>spotdrain history ARN --json</code> lists "
                    "them all</td></tr>"
                )
            continue
        number = index + 1
        this_run = int(visit.get("run") or 0)
        if this_run != run:
            run = this_run
            rows.append(
                f'<tr class="run-sep"><td colspan="{columns}">Redrive {run}: resumed at '
                f"{_e(visit.get('name'))}</td></tr>"
            )
        result = str(visit.get("result") or "running")
        name = str(visit.get("name"))
        name_cell = _e(name) if name not in drawn else f'<a href="#graph">{_e(name)}</a>'
        errors = _errors(visit.get("errors") or [])
        attempts = int(visit.get("attempts") or 0)
        took = _seconds(visit.get("seconds")) if visit.get("exited") else "running…"
        cells = [
            f'<td class="num"><a href="#visit-{number}">{number}</a></td>',
            *([f'<td class="num">{this_run}</td>'] if redriven else []),
            f"<td>{name_cell}</td>",
            f"<td>{_e(visit.get('type'))}</td>",
            f'<td><span class="pill r-{_e(result.replace(" ", "-"))}">{_e(result)}</span></td>',
            f'<td class="num">{_e(_offset(visit.get("entered"), base))}</td>',
            f'<td class="num">{_e(took)}</td>',
            f'<td class="num">{attempts if attempts else ""}'
            + (f" (↻ {attempts - 1})" if attempts > 1 else "")
            + "</td>",
            f'<td class="errors">{errors}</td>',
        ]
        rows.append(f'<tr id="visit-{number}" class="visit">{"".join(cells)}</tr>')
        rows.append(
            f'<tr class="io"><td colspan="{columns}">{_io_cell(index, visit, plan.get(index))}</td></tr>'
        )
    return rows


def _errors(errors: list[dict[str, Any]]) -> str:
    """A visit's errors, one line each, the same error in a row once with a count."""
    lines: list[tuple[str, str, int]] = []
    for error in errors:
        line = (str(error.get("error")), _short(_message(error.get("cause")), 300))
        if lines and lines[-1][:2] == line:
            lines[-1] = (*line, lines[-1][2] + 1)
        else:
            lines.append((*line, 1))
    return "<br>".join(
        f"<strong>{_e(name)}</strong>{f' ×{count}' if count > 1 else ''}: {_e(message)}"
        for name, message, count in lines
    )


def _kept_rows(count: int, limit: int) -> set[int]:
    if count <= limit:
        return set(range(count))
    half = limit // 2
    return set(range(half)) | set(range(count - half, count))


def _details_of(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _event_summary(event: dict[str, Any]) -> str:
    details = _details_of(event)
    parts: list[str] = []
    if "name" in details:
        parts.append(str(details["name"]))
    for key, value in details.items():
        if key == "name" or (
            key.endswith("Details") and isinstance(value, dict) and not value.get("truncated")
        ):
            continue
        if key in {"input", "output", "parameters", "result"}:
            parts.append(f"{key} {_size(value)}")
        elif key == "cause":
            parts.append(_short(_message(value), 200))
        elif isinstance(value, dict):
            parts.append(f"{key}: truncated" if value.get("truncated") else key)
        else:
            parts.append(f"{key}: {_short(value, 120)}")
    return _short("; ".join(parts), 400)


def _event_rows(events: list[dict[str, Any]], base: datetime | None) -> list[str]:
    rows: list[str] = []
    keep = _kept_rows(len(events), MAX_EVENT_ROWS)
    for index, event in enumerate(events):
        if index not in keep:
            if index - 1 in keep:
                rows.append(
                    f'<tr class="omitted"><td colspan="6">… {len(events) - len(keep):,} events not '
                    "listed (the first and the last are)</td></tr>"
                )
            continue
        kind = str(event.get("type", ""))
        failing = kind.endswith(("Failed", "TimedOut", "Aborted")) or kind == "ExecutionRedriven"
        rows.append(
            f'<tr{" class=ev-fail" if failing else ""}><td class="num">{_e(event.get("id", ""))}</td>'
            f'<td class="num">{_e(event.get("previousEventId", ""))}</td>'
            f'<td class="mono">{_e(_stamp(event.get("timestamp")))}</td>'
            f'<td class="num">{_e(_offset(event.get("timestamp"), base))}</td>'
            f'<td class="type">{_e(kind)}</td><td>{_e(_event_summary(event))}</td></tr>'
        )
    return rows


def render_page(
    execution_arn: str,
    definition: dict[str, Any],
    analysis: dict[str, Any],
    events: list[dict[str, Any]],
) -> str:
    """One self-contained HTML page: the execution's graph, path, events and inputs/outputs.

    ``definition`` is the state machine's ASL (as a dict), ``analysis`` what
    :func:`spotdrain_cli.history.analyse` made of ``events`` (the history, oldest first)."""
    visits: list[dict[str, Any]] = list(analysis.get("states") or [])
    runs: list[dict[str, Any]] = list(analysis.get("runs") or [])
    base = _when(runs[0].get("started")) if runs else None
    if base is None and events:
        base = _when(events[0].get("timestamp"))
    if base is None and visits:
        base = _when(visits[0].get("entered"))
    graph, drawn = _graph(definition if isinstance(definition, dict) else {}, analysis)
    redriven = len(runs) > 1
    head_cells = ["#", *(["Run"] if redriven else []), "State", "Type", "Result", "Entered", "Took"]
    head_cells += ["Attempts", "Errors"]
    head = "".join(f"<th>{label}</th>" for label in head_cells)
    unknown = sorted({str(v.get("name")) for v in visits} - drawn)
    unknown_note = (
        f'<p class="note">Not in the graph (nested or from another definition): {_e(", ".join(unknown))}</p>'
        if unknown
        else ""
    )
    status = str(analysis.get("status") or "RUNNING")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{_e(status)} · {_e(execution_arn.rsplit(':', 1)[-1])} · spotdrain</title>",
        f"<style>{CSS}</style></head><body>",
        _header(execution_arn, analysis, events),
        '<section class="card" id="graph"><h2>Graph</h2>',
        _legend(),
        f'<div class="graph-wrap">{graph}</div>',
        '<p class="note">Click a state to jump to its (last) visit below.</p></section>',
        f'<section class="card" id="path"><h2>Path taken: {len(visits):,} state visits</h2>{unknown_note}',
        f"<table><thead><tr>{head}</tr></thead><tbody>",
        *_visit_rows(visits, base, redriven, drawn),
        "</tbody></table></section>",
        '<section class="card" id="events"><details class="events">',
        f"<summary>History events ({len(events):,})</summary>",
        "<table><thead><tr><th>ID</th><th>Previous</th><th>Time</th><th>Offset</th><th>Type</th>"
        "<th>Details</th></tr></thead><tbody>",
        *_event_rows(events, base),
        "</tbody></table></details></section></main>",
        f"<script>{SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts)
