"""Q1: trace the computation graph autograd really builds, and step through it by hand.

The package is a pipeline (see :mod:`.trace`): :mod:`.parse` reads an expression or a short
program against a whitelist into :mod:`.tree`, :mod:`.inputs` checks x, z and the dtype,
:mod:`.ops` holds one entry per operation (torch and numpy functions, local derivatives, domain
issues, rendering, folding), :mod:`.build` runs it with PyTorch and by hand, :mod:`.backward`
works the chain rule, :mod:`.graph` reads back autograd's graph, :mod:`.check` compares,
:mod:`.notes` explains. Results are the frozen dataclasses of :mod:`.model`; nothing prints.

Importing the package (and :mod:`.inputs`, :mod:`.parse`) does not import torch, so bad input
fails fast; :func:`workbench.engine.autograd.trace.trace_expression` does.
"""

from __future__ import annotations

from workbench.engine.autograd.inputs import (
    DEFAULT_EXPRESSION,
    DEFAULT_X,
    DEFAULT_Z,
    DTYPES,
    MAX_ELEMENTS,
    check_inputs,
    parse_vector,
)
from workbench.engine.autograd.model import (
    AutogradTrace,
    BackwardStep,
    Check,
    ForwardStep,
    GradRow,
    GraphEdge,
    GraphNode,
    Issue,
    LocalDerivative,
    heading,
    largest_finite,
)
from workbench.engine.autograd.naming import grad_label
from workbench.engine.autograd.parse import ExpressionError, InputError, parse_program

__all__ = [
    "DEFAULT_EXPRESSION",
    "DEFAULT_X",
    "DEFAULT_Z",
    "DTYPES",
    "MAX_ELEMENTS",
    "AutogradTrace",
    "BackwardStep",
    "Check",
    "ExpressionError",
    "ForwardStep",
    "GradRow",
    "GraphEdge",
    "GraphNode",
    "InputError",
    "Issue",
    "LocalDerivative",
    "check_inputs",
    "grad_label",
    "heading",
    "largest_finite",
    "parse_program",
    "parse_vector",
]
