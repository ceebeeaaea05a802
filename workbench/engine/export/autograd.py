"""Q1 artefacts: ``autograd_graph.png`` (+ ``.dot``), ``autograd_steps.md``,
``autograd_check.txt``.

Each ``write_*`` function writes one artefact atomically and returns its path(s); the
``*_text``/``*_markdown``/``*_dot`` functions return the same content as a string for screens.
"""

from __future__ import annotations

from pathlib import Path

from workbench.engine.atomic import atomic_write_text
from workbench.engine.autograd_demo import AutogradTrace, GraphNode, grad_label
from workbench.engine.export import format_values, new_figure, save_figure

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


def _layers(trace: AutogradTrace) -> dict[str, int]:
    incoming: dict[str, list[str]] = {node.id: [] for node in trace.nodes}
    for edge in trace.edges:
        incoming[edge.target].append(edge.source)
    layer: dict[str, int] = {}

    def depth(node_id: str, seen: frozenset[str] = frozenset()) -> int:
        if node_id not in layer:
            sources = [s for s in incoming[node_id] if s not in seen]
            layer[node_id] = 1 + max((depth(s, seen | {node_id}) for s in sources), default=-1)
        return layer[node_id]

    constants = {node.id for node in trace.nodes if node.kind == "constant"}
    for node in trace.nodes:
        if node.id not in constants:
            depth(node.id)
    for edge in trace.edges:  # a constant sits just left of the node that uses it
        if edge.source in constants:
            layer[edge.source] = max(0, depth(edge.target) - 1)
    return layer


def write_autograd_graph(trace: AutogradTrace, out_dir: str | Path) -> list[Path]:
    """Draw the traced graph with matplotlib (``autograd_graph.png``) and write its DOT source
    beside it (``autograd_graph.dot``; render it with Graphviz if you have it)."""
    from matplotlib.patches import FancyBboxPatch

    out = Path(out_dir)
    layer = _layers(trace)
    columns: dict[int, list[GraphNode]] = {}
    for node in trace.nodes:
        columns.setdefault(layer[node.id], []).append(node)
    width_per, height_per = 3.1, 1.25
    n_cols = max(columns) + 1
    n_rows = max(len(column) for column in columns.values())
    figure = new_figure(max(6.0, n_cols * width_per), max(3.0, n_rows * height_per + 1.0))
    axes = figure.add_subplot(1, 1, 1)
    axes.set_xlim(-0.6, n_cols - 0.4)
    axes.set_ylim(-0.7, n_rows - 0.3)
    axes.axis("off")
    position: dict[str, tuple[float, float]] = {}
    box_w, box_h = 0.84, 0.62
    for col, nodes in columns.items():
        offset = (n_rows - len(nodes)) / 2
        for row, node in enumerate(nodes):
            position[node.id] = (float(col), n_rows - 1 - (row + offset))
    colours = {"leaf": "#cfe8ff", "constant": "#eeeeee"}
    for node in trace.nodes:
        cx, cy = position[node.id]
        colour = colours.get(node.kind, "#f5f5f5" if node.op == "internal" else "#fff2cc")
        axes.add_patch(
            FancyBboxPatch(
                (cx - box_w / 2, cy - box_h / 2),
                box_w,
                box_h,
                boxstyle="round,pad=0.02",
                facecolor=colour,
                edgecolor="#555555",
                linewidth=0.8,
            )
        )
        lines = _label_lines(node)
        axes.text(
            cx, cy + 0.17, lines[0], ha="center", va="center", fontsize=7.5, fontweight="bold"
        )
        axes.text(cx, cy - 0.08, "\n".join(lines[1:]), ha="center", va="center", fontsize=5.5)
    for edge in trace.edges:
        (sx, sy), (tx, ty) = position[edge.source], position[edge.target]
        # edges that skip a column bend, so they pass beside the boxes in between
        bend = 0.0 if tx - sx <= 1 else (-0.25 if ty >= sy else 0.25)
        axes.annotate(
            "",
            xy=(tx - box_w / 2, ty),
            xytext=(sx + box_w / 2, sy),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#333333" if edge.in_autograd else "#999999",
                "linestyle": "-" if edge.in_autograd else "--",
                "linewidth": 0.8,
                "shrinkA": 1,
                "shrinkB": 1,
                "connectionstyle": f"arc3,rad={bend}",
            },
        )
        if edge.role and edge.role.split()[0] in ("base", "exponent", "numerator", "denominator"):
            axes.text(
                (sx + tx) / 2,
                (sy + ty) / 2 + 0.05,
                edge.role,
                fontsize=5.5,
                ha="center",
                color="#aa3300",
            )
    title = f"y = {'mean(' + trace.expression + ')' if trace.reduced else trace.expression}"
    axes.set_title(
        f"{title}   x = {format_values(trace.x, 4)}   z = {format_values(trace.z, 4)}"
        f"   ({trace.dtype}; grad = ∂y/∂node from autograd; dashed: constants autograd never sees)",
        fontsize=8,
    )
    png = save_figure(figure, out / GRAPH_PNG)
    dot = atomic_write_text(out / GRAPH_DOT, autograd_dot(trace))
    return [png, dot]


def autograd_steps_markdown(trace: AutogradTrace) -> str:
    """Every forward and backward step as Markdown tables, ready for a write-up."""
    y_text = f"mean({trace.expression})" if trace.reduced else trace.expression
    lines = [
        "# Q1: autograd, step by step",
        "",
        f"`y = {y_text}` with `x = {format_values(trace.x, 6)}`, "
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
    """The comparison table (Markdown)."""
    check = trace.check
    lines = [
        "| tensor | hand (float64) | PyTorch | max rel. diff | status |",
        "|---|---|---|---|---|",
    ]
    for row in check.rows:
        finite = [d for d in row.rel_diff if d == d]
        lines.append(
            f"| {_md(grad_label(row.name))} | {format_values(row.hand, 8)} | "
            f"{format_values(row.torch, 8)} | {max(finite, default=0.0):.2e} | "
            f"{_status(row.status)} |"
        )
    lines += ["", f"Largest relative difference: {check.max_rel_diff:.3e}. {check.note}"]
    return "\n".join(lines)


def _status(statuses: tuple[str, ...]) -> str:
    if all(status == "ok" for status in statuses):
        return "ok"
    return ", ".join(statuses)


def autograd_check_text(trace: AutogradTrace) -> str:
    """The plain-text check: x.grad and z.grad by hand and by autograd, and the verdict."""
    check = trace.check
    y_text = f"mean({trace.expression})" if trace.reduced else trace.expression
    lines = [
        f"y = {y_text}",
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
