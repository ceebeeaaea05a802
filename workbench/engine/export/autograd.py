"""Q1 artefacts: ``autograd_graph.png`` (+ ``.dot``), ``autograd_steps.md``,
``autograd_check.txt``.

Each ``write_*`` function writes one artefact atomically and returns its path(s); the
``*_text``/``*_markdown``/``*_dot`` functions return the same content as a string for screens,
and :func:`autograd_graph_figure` returns the Figure the PNG is saved from (a notebook shows the
same one). The Markdown renders as a Jupyter Markdown cell: every ``|`` in a table cell escaped.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.engine.atomic import atomic_write_text
from workbench.engine.autograd import (
    AutogradTrace,
    GraphEdge,
    GraphNode,
    grad_label,
    heading,
    largest_finite,
)
from workbench.engine.export import format_values, new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

GRAPH_PNG = "autograd_graph.png"
GRAPH_DOT = "autograd_graph.dot"
STEPS_MD = "autograd_steps.md"
CHECK_TXT = "autograd_check.txt"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _label_lines(node: GraphNode) -> list[str]:
    if node.op == "internal":
        return [node.kind, "added inside PyTorch"]
    lines = [f"{node.name}  ({node.kind})"]
    lines.append(f"value {format_values(node.value, 3)}")
    if node.op != "constant":
        lines.append(f"grad {format_values(node.grad, 4)}")
    return lines


def autograd_dot(trace: AutogradTrace) -> str:
    """Graphviz DOT source of the traced graph (values and gradients on the nodes)."""
    lines = [
        "digraph autograd {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    ]
    colours = {"leaf": "#cfe8ff", "constant": "#eeeeee"}
    for node in trace.nodes:
        colour = colours.get(node.kind, "#f5f5f5" if node.op == "internal" else "#fff2cc")
        label = "\\n".join(_dot_escape(line) for line in _label_lines(node))
        lines.append(f'  {node.id} [label="{label}", fillcolor="{colour}"];')
    for edge in trace.edges:
        style = "" if edge.in_autograd else ', style=dashed, color="#888888"'
        lines.append(f'  {edge.source} -> {edge.target} [label="{_dot_escape(edge.role)}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the graph figure
# A layered drawing, inputs at the top and y at the bottom. An edge that skips rows gets a
# channel (a "dummy" slot) in every row it crosses, so it never passes through a box: between
# rows it is a curve that stays inside the empty gap, inside a row it runs straight down its
# own channel. All sizes are inches: the axes map one data unit to one inch, so the text keeps
# its point size at the saved size.

_FONT = 9.0
"""Points: node values, gradients and edge labels."""
_HEAD_FONT = 10.0
_PAD = 0.12
_GAP_X = 0.45
_GAP_Y = 0.8
_CHANNEL = 0.3
_LINE = 1.4
_LABELLED_ROLES = frozenset(
    {"base", "exponent", "numerator", "denominator", "dividend", "divisor", "minuend", "subtrahend"}
)
"""Roles whose order matters, so the edge is labelled (not "left operand" of a +)."""
_COLOURS = {"leaf": "#cfe8ff", "constant": "#eeeeee"}


@dataclass(frozen=True)
class NodeBox:
    """A node's box: centre, size (inches; y grows downwards) and its lines of text."""

    id: str
    x: float
    y: float
    width: float
    height: float
    lines: tuple[str, ...]

    @property
    def top(self) -> float:
        return self.y - self.height / 2

    @property
    def bottom(self) -> float:
        return self.y + self.height / 2


@dataclass(frozen=True)
class EdgeRoute:
    """An edge's path (matplotlib ``Path`` vertices and codes) and its label's centre."""

    edge: GraphEdge
    vertices: tuple[tuple[float, float], ...]
    codes: tuple[int, ...]
    label: tuple[float, float] | None


@dataclass(frozen=True)
class GraphLayout:
    """Where :func:`autograd_graph_figure` draws every box and edge (inches)."""

    width: float
    height: float
    boxes: dict[str, NodeBox]
    routes: tuple[EdgeRoute, ...]


def _text_size(text: str, size: float, bold: bool = False) -> tuple[float, float]:
    """Width and height of one line of text in inches, as matplotlib will draw it."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    width, height, _ = TextToPath().get_text_width_height_descent(text, prop, ismath=False)
    return width / 72.0, height / 72.0


def _box_size(lines: list[str]) -> tuple[float, float]:
    widths = [_text_size(lines[0], _HEAD_FONT, bold=True)[0]]
    widths += [_text_size(line, _FONT)[0] for line in lines[1:]]
    height = (_HEAD_FONT + _FONT * (len(lines) - 1)) * _LINE / 72.0
    return max(widths) + 2 * _PAD, height + 2 * _PAD


def _ranks(trace: AutogradTrace) -> dict[str, int]:
    """Row of every node: one more than its deepest input; a constant sits just above the
    node that uses it."""
    incoming: dict[str, list[str]] = {node.id: [] for node in trace.nodes}
    for edge in trace.edges:
        incoming[edge.target].append(edge.source)
    rank: dict[str, int] = {}

    def depth(node_id: str, seen: frozenset[str] = frozenset()) -> int:
        if node_id not in rank:
            sources = [s for s in incoming[node_id] if s not in seen]
            rank[node_id] = 1 + max((depth(s, seen | {node_id}) for s in sources), default=-1)
        return rank[node_id]

    constants = {node.id for node in trace.nodes if node.kind == "constant"}
    for node in trace.nodes:
        if node.id not in constants:
            depth(node.id)
    for edge in trace.edges:
        if edge.source in constants:
            rank[edge.source] = max(0, depth(edge.target) - 1)
    changed = True
    while changed:  # every edge must point down (a DAG: this ends)
        changed = False
        for edge in trace.edges:
            if rank[edge.target] <= rank[edge.source]:
                rank[edge.target], changed = rank[edge.source] + 1, True
    return rank


def _crossings(rows: list[list[str]], down: dict[str, list[str]]) -> int:
    total = 0
    for upper, lower in itertools.pairwise(rows):
        where = {v: i for i, v in enumerate(lower)}
        pairs = [(i, where[w]) for i, v in enumerate(upper) for w in down[v]]
        total += sum(
            1 for (a, b), (c, d) in itertools.combinations(pairs, 2) if (a - c) * (b - d) < 0
        )
    return total


def _by_barycentre(
    row: list[str], reference: list[str], neighbours: dict[str, list[str]]
) -> list[str]:
    """``row`` sorted by the mean position of each slot's neighbours in ``reference``."""
    where = {v: i for i, v in enumerate(reference)}

    def key(item: tuple[int, str]) -> tuple[float, int]:
        index, node = item
        found = [where[n] for n in neighbours[node] if n in where]
        return (sum(found) / len(found) if found else float(index), index)

    return [v for _, v in sorted(enumerate(row), key=key)]


def _order_rows(
    rows: list[list[str]], up: dict[str, list[str]], down: dict[str, list[str]]
) -> list[list[str]]:
    """Order each row by its neighbours (barycentre sweeps, down and up), keeping the order
    with the fewest crossings: fewer crossings, a graph that reads at a glance."""
    best, best_score = [list(row) for row in rows], _crossings(rows, down)
    current = [list(row) for row in rows]
    for sweep in range(8):
        if sweep % 2 == 0:
            for r in range(1, len(current)):
                current[r] = _by_barycentre(current[r], current[r - 1], up)
        else:
            for r in range(len(current) - 2, -1, -1):
                current[r] = _by_barycentre(current[r], current[r + 1], down)
        score = _transpose(current, down)
        if score < best_score:
            best, best_score = [list(row) for row in current], score
    return best


def _transpose(rows: list[list[str]], down: dict[str, list[str]]) -> int:
    """Swap neighbours within a row while that removes crossings (barycentres miss some);
    ``rows`` is changed in place; returns the crossings left."""
    score = _crossings(rows, down)
    improved = True
    while improved:
        improved = False
        for row in rows:
            for i in range(len(row) - 1):
                row[i], row[i + 1] = row[i + 1], row[i]
                swapped = _crossings(rows, down)
                if swapped < score:
                    score, improved = swapped, True
                else:
                    row[i], row[i + 1] = row[i + 1], row[i]
    return score


def _place_x(
    rows: list[list[str]], widths: dict[str, float], neighbours: dict[str, list[str]]
) -> dict[str, float]:
    """x of every slot: pulled towards its neighbours' mean, never closer than ``_GAP_X``."""
    x: dict[str, float] = {}
    for row in rows:
        cursor = 0.0
        for v in row:
            x[v] = cursor + widths[v] / 2
            cursor += widths[v] + _GAP_X
    for _ in range(12):
        for row in rows:
            wanted = [
                sum(x[n] for n in neighbours[v]) / len(neighbours[v]) if neighbours[v] else x[v]
                for v in row
            ]
            gaps = [(widths[a] + widths[b]) / 2 + _GAP_X for a, b in itertools.pairwise(row)]
            left = list(wanted)
            for i in range(1, len(row)):
                left[i] = max(wanted[i], left[i - 1] + gaps[i - 1])
            right = list(wanted)
            for i in range(len(row) - 2, -1, -1):
                right[i] = min(wanted[i], right[i + 1] - gaps[i])
            for i, v in enumerate(row):  # both packings keep the gaps, so does their mean
                x[v] = (left[i] + right[i]) / 2
    shift = _PAD * 2 - min(x[v] - widths[v] / 2 for v in x)
    return {v: value + shift for v, value in x.items()}


def _spread(box: NodeBox, count: int) -> list[float]:
    """``count`` x positions along a box's edge, centred, inside its padding."""
    step = min(0.3, (box.width - 2 * _PAD) / max(count, 1))
    return [box.x + (i - (count - 1) / 2) * step for i in range(count)]


def _attachments(
    chains: list[list[str]], x: dict[str, float], boxes: dict[str, NodeBox]
) -> tuple[dict[int, float], dict[int, float]]:
    """Where each edge leaves its source's bottom and enters its target's top: edges that share
    a box get their own points, ordered by where they come from or go (no crossing there)."""
    outgoing: dict[str, list[int]] = {}
    incoming: dict[str, list[int]] = {}
    for k, chain in enumerate(chains):
        outgoing.setdefault(chain[0], []).append(k)
        incoming.setdefault(chain[-1], []).append(k)
    leave: dict[int, float] = {}
    enter: dict[int, float] = {}
    for groups, result, neighbour in ((outgoing, leave, 1), (incoming, enter, -2)):
        for node_id, edges in groups.items():
            edges.sort(key=lambda k: x[chains[k][neighbour]])
            result.update(zip(edges, _spread(boxes[node_id], len(edges)), strict=True))
    return leave, enter


def _bezier(p: tuple[float, float, float, float], t: float) -> tuple[float, float]:
    """A gap crossing (x0, y0, x1, y1) with control points at mid-height, at parameter t."""
    x0, y0, x1, y1 = p
    s = 3 * t**2 - 2 * t**3  # x and y both follow this smooth step
    return x0 + (x1 - x0) * s, y0 + (y1 - y0) * s


Rect = tuple[float, float, float, float]  # left, top, right, bottom


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label_spot(
    role: str, crossing: tuple[float, float, float, float], taken: list[Rect]
) -> tuple[float, float]:
    """A point on the edge's last gap crossing whose label overlaps no box and no label."""
    width, height = _text_size(role, _FONT)
    pad = 0.15 * _FONT / 72 + 0.02
    spot = _bezier(crossing, 0.5)
    for t in (0.5, 0.38, 0.62, 0.3, 0.7):
        x, y = _bezier(crossing, t)
        rect = (
            x - width / 2 - pad,
            y - height / 2 - pad,
            x + width / 2 + pad,
            y + height / 2 + pad,
        )
        if not any(_overlaps(rect, other) for other in taken):
            spot = (x, y)
            break
    x, y = spot
    taken.append(
        (x - width / 2 - pad, y - height / 2 - pad, x + width / 2 + pad, y + height / 2 + pad)
    )
    return spot


def _routes(
    edges: tuple[GraphEdge, ...],
    chains: list[list[str]],
    x: dict[str, float],
    bands: list[tuple[float, float]],
    rank: dict[str, int],
    boxes: dict[str, NodeBox],
) -> tuple[EdgeRoute, ...]:
    """Each edge: down from its source, across each gap on a curve that stays in the gap, down
    its channel through every row it skips, into its target's top."""
    from matplotlib.path import Path as MplPath

    move, line, curve = int(MplPath.MOVETO), int(MplPath.LINETO), int(MplPath.CURVE4)
    leave, enter = _attachments(chains, x, boxes)
    taken: list[Rect] = [
        (b.x - b.width / 2, b.top, b.x + b.width / 2, b.bottom) for b in boxes.values()
    ]
    routes: list[EdgeRoute] = []
    for k, (edge, chain) in enumerate(zip(edges, chains, strict=True)):
        row = rank[edge.source]
        here = leave[k]
        vertices = [(here, boxes[edge.source].bottom), (here, bands[row][1])]
        codes = [move, line]
        crossing = (here, bands[row][1], here, bands[row][1])
        for slot in chain[1:]:
            row += 1
            last = slot == edge.target
            there = enter[k] if last else x[slot]
            top = bands[row][0] - (0.12 if last else 0.0)
            crossing = (here, bands[row - 1][1], there, top)
            middle = (bands[row - 1][1] + top) / 2
            vertices += [(here, middle), (there, middle), (there, top)]
            codes += [curve] * 3
            vertices.append((there, boxes[slot].top if last else bands[row][1]))
            codes.append(line)
            here = there
        label = _label_spot(edge.role, crossing, taken) if edge.role in _LABELLED_ROLES else None
        routes.append(EdgeRoute(edge, tuple(vertices), tuple(codes), label))
    return tuple(routes)


def autograd_graph_layout(trace: AutogradTrace) -> GraphLayout:
    """Rows, boxes and edge paths of the traced graph (inches), for the figure and its tests."""
    rank = _ranks(trace)
    lines = {node.id: tuple(_label_lines(node)) for node in trace.nodes}
    sizes = {node.id: _box_size(list(lines[node.id])) for node in trace.nodes}
    rows: list[list[str]] = [[] for _ in range(max(rank.values()) + 1)]
    for node in trace.nodes:
        rows[rank[node.id]].append(node.id)
    widths = {node_id: size[0] for node_id, size in sizes.items()}
    up: dict[str, list[str]] = {node_id: [] for node_id in widths}
    down: dict[str, list[str]] = {node_id: [] for node_id in widths}
    chains: list[list[str]] = []
    for k, edge in enumerate(trace.edges):  # a channel in every row the edge skips
        chain = [edge.source]
        for row in range(rank[edge.source] + 1, rank[edge.target]):
            channel = f"~{k}~{row}"
            rows[row].append(channel)
            widths[channel] = _CHANNEL
            up[channel], down[channel] = [], []
            chain.append(channel)
        chain.append(edge.target)
        for a, b in itertools.pairwise(chain):
            down[a].append(b)
            up[b].append(a)
        chains.append(chain)
    rows = _order_rows(rows, up, down)
    x = _place_x(rows, widths, {v: up[v] + down[v] for v in widths})
    bands: list[tuple[float, float]] = []
    cursor = 2 * _PAD
    for row_nodes in rows:
        height = max((sizes[v][1] for v in row_nodes if v in sizes), default=_CHANNEL)
        bands.append((cursor, cursor + height))
        cursor += height + _GAP_Y
    boxes = {
        node.id: NodeBox(
            node.id,
            x[node.id],
            sum(bands[rank[node.id]]) / 2,
            *sizes[node.id],
            lines[node.id],
        )
        for node in trace.nodes
    }
    routes = _routes(trace.edges, chains, x, bands, rank, boxes)
    width = max(x[v] + widths[v] / 2 for v in x) + 2 * _PAD
    return GraphLayout(width, cursor - _GAP_Y + 2 * _PAD, boxes, routes)


def autograd_graph_figure(trace: AutogradTrace) -> Figure:
    """The traced graph, inputs at the top and y at the bottom: every node with its value and
    ∂y/∂node from autograd, edges routed around the boxes, ≥ 9 pt text at the saved size."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as MplPath

    layout = autograd_graph_layout(trace)
    inputs = f"x = {format_values(trace.x, 4)}     z = {format_values(trace.z, 4)}"
    title = (
        f"{heading(trace)}     {inputs}\n"
        f"{trace.dtype}; grad = ∂y/∂node from autograd; dashed: constants autograd never sees"
    )
    title_width = max(_text_size(line, _HEAD_FONT)[0] for line in title.split("\n"))
    margin = max(0.0, (title_width + 4 * _PAD - layout.width) / 2)
    title_height = 2 * _HEAD_FONT * _LINE / 72 + 2 * _PAD
    width, height = layout.width + 2 * margin, layout.height + title_height
    figure = new_figure(width, height)
    axes = figure.add_axes((0.0, 0.0, 1.0, layout.height / height))
    axes.set_xlim(-margin, layout.width + margin)  # one data unit is one inch both ways
    axes.set_ylim(layout.height, 0.0)
    axes.axis("off")
    figure.text(
        0.5, 1 - _PAD / height, title, ha="center", va="top", fontsize=_HEAD_FONT, parse_math=False
    )
    for node in trace.nodes:
        box = layout.boxes[node.id]
        axes.add_patch(
            FancyBboxPatch(
                (box.x - box.width / 2, box.top),
                box.width,
                box.height,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=_COLOURS.get(
                    node.kind, "#f5f5f5" if node.op == "internal" else "#fff2cc"
                ),
                edgecolor="#555555",
                linewidth=0.9,
                gid=f"node:{node.id}",
                zorder=2,
            )
        )
        top = box.top + _PAD
        for index, line in enumerate(box.lines):
            size = _HEAD_FONT if index == 0 else _FONT
            axes.text(
                box.x,
                top + size * _LINE / 144,
                line,
                ha="center",
                va="center",
                fontsize=size,
                fontweight="bold" if index == 0 else "normal",
                parse_math=False,
                zorder=3,
            )
            top += size * _LINE / 72
    for route in layout.routes:
        edge = route.edge
        axes.add_patch(
            FancyArrowPatch(
                path=MplPath(route.vertices, route.codes),
                arrowstyle="-|>",
                mutation_scale=12,
                color="#333333" if edge.in_autograd else "#999999",
                linestyle="-" if edge.in_autograd else "--",
                linewidth=1.0,
                gid=f"edge:{edge.source}->{edge.target}",
                zorder=1,
            )
        )
        if route.label is not None:
            axes.text(
                *route.label,
                edge.role,
                ha="center",
                va="center",
                fontsize=_FONT,
                color="#aa3300",
                parse_math=False,
                gid=f"label:{edge.source}->{edge.target}",
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"},
                zorder=4,
            )
    return figure


def write_autograd_graph(trace: AutogradTrace, out_dir: str | Path) -> list[Path]:
    """``autograd_graph.png`` (:func:`autograd_graph_figure`, saved) and its DOT source beside
    it (``autograd_graph.dot``; render it with Graphviz if you have it)."""
    out = Path(out_dir)
    png = save_figure(autograd_graph_figure(trace), out / GRAPH_PNG)
    dot = atomic_write_text(out / GRAPH_DOT, autograd_dot(trace))
    return [png, dot]


# --------------------------------------------------------------------------- zero exponents


def _name(name: str) -> str:
    """A display name as a factor in ∂a/∂b: parenthesised unless it is one symbol."""
    plain = name.isidentifier() or name.replace(".", "", 1).isdigit()
    return name if plain else f"({name})"


def _at(values: tuple[float, ...] | None, index: int) -> float:
    """Element ``index`` of a vector, or the scalar itself (broadcast)."""
    if not values:
        return math.nan
    return values[index] if len(values) > 1 else values[0]


def _reaches(trace: AutogradTrace, start: str, goal: str, avoid: str = "") -> bool:
    """Whether a path of edges leads from ``start`` to ``goal`` without passing ``avoid``."""
    following: dict[str, list[str]] = {}
    for edge in trace.edges:
        following.setdefault(edge.source, []).append(edge.target)
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in following.get(node, []):
            if nxt not in seen and nxt != avoid:
                seen.add(nxt)
                stack.append(nxt)
    return False


def _base_local(trace: AutogradTrace, power: GraphNode, base: GraphNode, index: int) -> str:
    for step in trace.backward:
        if step.node == power.id:
            for local in step.locals:
                if local.input == base.id:
                    return f"{local.formula} = {_at(local.local, index):.6g}"
    return f"∂{_name(power.name)}/∂{_name(base.name)} = 0"


def _leaf_part(trace: AutogradTrace, leaf: str, power: GraphNode, index: int) -> str | None:
    """What ``leaf``'s gradient is at a zero-exponent element, when every path from it to y
    passes through ``power`` (otherwise nothing clean can be said)."""
    base, exponent = trace.node(power.inputs[0]), trace.node(power.inputs[1])
    if _reaches(trace, leaf, trace.output, avoid=power.id):
        return None
    grad = (trace.x_grad if leaf == "x" else trace.z_grad)[index]
    a, a_i = _name(base.name), _at(base.value, index)
    if not _reaches(trace, leaf, exponent.id):
        if not _reaches(trace, leaf, base.id):
            return None
        return f"{leaf}.grad[{index}] = {grad:.6g} ({leaf} reaches y only through the base {a})"
    d_exponent = _at(exponent.grad, index)  # ∂y/∂exponent = ∂y/∂power · a^0 · ln a
    factor = grad / d_exponent if d_exponent else math.nan
    text = (
        f"{leaf}.grad[{index}] comes only through the exponent: ∂y/∂{leaf} = "
        f"∂y/∂{_name(power.name)} · ln {a} · ∂{_name(exponent.name)}/∂{leaf} = "
        f"{_at(power.grad, index):.6g} · ln {a_i:.6g} · {factor:.6g} = {grad:.6g}"
    )
    if a_i > 0 and a_i != 1:
        text += f" = {grad / math.log(a_i):.6g}·ln {a_i:.6g}"
    return text


def zero_exponent_notes(trace: AutogradTrace) -> tuple[str, ...]:
    """Why an element whose exponent is exactly 0 is special (the assignment's element 2), from
    the trace's own numbers: the power is 1 whatever its base, so the base gets no gradient
    and a leaf reaches y there only through the exponent. Empty when no exponent is 0."""
    leaves = [leaf for leaf in ("x", "z") if leaf in {node.id for node in trace.nodes}]
    notes: list[str] = []
    for power in trace.nodes:
        if power.op != "**" or len(power.inputs) != 2:
            continue
        base, exponent = trace.node(power.inputs[0]), trace.node(power.inputs[1])
        for i in range(len(power.value or ())):
            if _at(exponent.value, i) != 0.0:
                continue
            a = _name(base.name)
            parts = [
                f"Element {i + 1} (index {i}) is special: the exponent {exponent.name} is 0 "
                f"there, so {power.name} = {a}^0 = {_at(power.value, i):.6g} whatever {a} is "
                f"(here {a} = {_at(base.value, i):.6g}); the base gets no gradient, "
                f"{_base_local(trace, power, base, i)}"
            ]
            parts += [p for leaf in leaves if (p := _leaf_part(trace, leaf, power, i))]
            notes.append("; ".join(parts) + ".")
    return tuple(notes)


def autograd_steps_markdown(trace: AutogradTrace) -> str:
    """Every forward and backward step as Markdown tables, ready for a write-up."""
    lines = [
        "# Q1: autograd, step by step",
        "",
        f"`{heading(trace)}` with `x = {format_values(trace.x, 6)}`, "
        f"`z = {format_values(trace.z, 6)}` ({trace.dtype}, requires_grad).",
        "",
    ]
    lines += [f"- {note}" for note in trace.notes]
    lines += [
        "",
        "## Forward pass (topological order)",
        "",
        "| step | node | kind | equation | value |",
        "|---:|---|---|---|---|",
    ]
    for step in trace.forward:
        lines.append(
            f"| {step.index} | {_md(step.name)} | {step.kind} | {_md(step.equation)} | "
            f"{format_values(step.value, 6)} |"
        )
    lines += [
        "",
        "## Backward pass (reverse order)",
        "",
        "| step | node | kind | upstream ∂y/∂node | local derivative | local value | "
        "contribution | accumulated |",
        "|---:|---|---|---|---|---|---|---|",
    ]
    for back in trace.backward:
        for position, local in enumerate(back.locals):
            head = (
                f"| {back.index} | {_md(back.equation)} | {back.kind} | "
                f"{format_values(back.upstream, 6)} "
                if position == 0
                else "| | | | "
            )
            lines.append(
                f"{head}| {_md(local.formula)} | {format_values(local.local, 6)} | "
                f"{format_values(local.contribution, 6)} | {_md(grad_label(local.input_name))} = "
                f"{format_values(local.accumulated, 6)} |"
            )
    lines += ["", "## Hand-style (float64) against PyTorch", "", autograd_check_markdown(trace)]
    if trace.issues:
        lines += ["", "## Undefined or non-differentiable points", ""]
        lines += [f"- {issue.text} ({issue.severity})" for issue in trace.issues]
    return "\n".join(lines) + "\n"


def autograd_check_markdown(trace: AutogradTrace) -> str:
    """Hand-style against autograd as a Markdown table, then why a zero-exponent element is
    special (:func:`zero_exponent_notes`)."""
    check = trace.check
    lines = [
        "| tensor | hand (float64) | PyTorch | max rel. diff | status |",
        "|---|---|---|---|---|",
    ]
    for row in check.rows:
        lines.append(
            f"| {_md(grad_label(row.name))} | {format_values(row.hand, 8)} | "
            f"{format_values(row.torch, 8)} | {largest_finite(row.rel_diff):.2e} | "
            f"{_status(row.status)} |"
        )
    lines += ["", f"Largest relative difference: {check.max_rel_diff:.3e}. {check.note}"]
    for note in zero_exponent_notes(trace):
        lines += ["", note]
    return "\n".join(lines)


def _status(statuses: tuple[str, ...]) -> str:
    if all(status == "ok" for status in statuses):
        return "ok"
    return ", ".join(statuses)


def autograd_check_text(trace: AutogradTrace) -> str:
    """The plain-text check: x.grad and z.grad by hand and by autograd, and the verdict."""
    check = trace.check
    lines = [
        heading(trace),
        f"x = {format_values(trace.x, 8)}",
        f"z = {format_values(trace.z, 8)}",
        f"dtype = {trace.dtype}",
        "",
        f"x.grad (PyTorch)     = {format_values(trace.x_grad, 8)}",
        f"x.grad (hand, f64)   = {format_values(trace.hand_x_grad, 8)}",
        f"z.grad (PyTorch)     = {format_values(trace.z_grad, 8)}",
        f"z.grad (hand, f64)   = {format_values(trace.hand_z_grad, 8)}",
        "",
        f"{'tensor':<16} {'element':>7} {'hand':>16} {'pytorch':>16} {'rel diff':>10}  status",
    ]
    for row in check.rows:
        for i, (h, t, d, s) in enumerate(
            zip(row.hand, row.torch, row.rel_diff, row.status, strict=True)
        ):
            lines.append(f"{grad_label(row.name):<16} {i:>7} {h:>16.9g} {t:>16.9g} {d:>10.2e}  {s}")
    lines += [
        "",
        f"tolerance: rtol = {check.rtol:g}, atol = {check.atol:g}",
        f"largest relative difference: {check.max_rel_diff:.3e}",
        f"verdict: {'AGREE' if check.ok else 'DIFFER'}"
        + (" (undefined points excepted; see below)" if trace.issues else ""),
        "",
        check.note,
    ]
    for note in zero_exponent_notes(trace):
        lines += ["", note]
    if trace.issues:
        lines.append("")
    lines += [f"- {issue.text}" for issue in trace.issues]
    return "\n".join(lines) + "\n"


def write_autograd_steps(trace: AutogradTrace, out_dir: str | Path) -> Path:
    """``autograd_steps.md``: every step as a table."""
    return atomic_write_text(Path(out_dir) / STEPS_MD, autograd_steps_markdown(trace))


def write_autograd_check(trace: AutogradTrace, out_dir: str | Path) -> Path:
    """``autograd_check.txt``: hand-style against autograd."""
    return atomic_write_text(Path(out_dir) / CHECK_TXT, autograd_check_text(trace))


def write_autograd_artefacts(trace: AutogradTrace, out_dir: str | Path) -> list[Path]:
    """All Q1 artefacts; returns every path written."""
    return [
        *write_autograd_graph(trace, out_dir),
        write_autograd_steps(trace, out_dir),
        write_autograd_check(trace, out_dir),
    ]
