"""The CNN of Q3, built from scratch from a :class:`~workbench.config.ModelConfig`.

An optional stride-2 stem conv, then stages of ``convs_per_stage`` 3x3 conv/BN/ReLU blocks
(plain, or one :class:`ResidualUnit` per stage whose skip connection gives the gradient a short
path; optionally a :class:`SqueezeExcite` gate), each stage closed by a 2x2 max pool, then
global average pooling, dropout and one linear layer to C logits. ``predict_proba`` applies
the softmax; losses take the logits (numerically safer) and apply what each needs. No
pre-trained weights anywhere: every parameter starts from PyTorch's (Kaiming) initialisation.

:func:`summarize` describes the network as data (layers, output shapes, parameters,
multiply-adds per image) for the CLI and the TUI to render.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from workbench.config import ModelConfig


class ConvBlock(nn.Sequential):
    """3x3 convolution (no bias: batch norm has one), batch norm, ReLU. Stride 2 halves the
    resolution (the stem)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al. 2018): global average pool, a bottleneck MLP, and a sigmoid
    gate in (0, 1) per channel that rescales the feature maps. The sigmoid has a job here: each
    channel's weight is an independent "how much of this feature" switch."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(4, channels // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.squeeze = nn.Conv2d(channels, hidden, 1)
        self.relu = nn.ReLU(inplace=True)
        self.excite = nn.Conv2d(hidden, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.gate(self.excite(self.relu(self.squeeze(self.pool(x)))))
        return x * weights


class ResidualUnit(nn.Module):
    """``convs`` conv/BN blocks whose output is added to the input (projected by a 1x1 conv
    where the width changes), then ReLU: the gradient has a short path through every stage."""

    def __init__(self, in_channels: int, out_channels: int, convs: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = [ConvBlock(in_channels, out_channels)]
        blocks += [ConvBlock(out_channels, out_channels) for _ in range(convs - 2)]
        if convs > 1:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
                    nn.BatchNorm2d(out_channels),
                )
            )
        self.body = nn.Sequential(*blocks)
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class Classifier(nn.Module):
    """A CNN built from :class:`ModelConfig`: optional stride-2 stem, conv/BN/ReLU stages (plain
    VGG-style or residual, optionally gated) each closed by a max pool, GAP, dropout, linear."""

    def __init__(self, config: ModelConfig, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.config = config
        self.num_classes = num_classes
        stages: list[nn.Module] = []
        channels = in_channels
        if config.stem:
            stages.append(ConvBlock(channels, config.stem, stride=2))
            channels = config.stem
        for width in config.widths:
            blocks: list[nn.Module] = []
            if config.residual:
                blocks.append(ResidualUnit(channels, width, config.convs_per_stage))
            else:
                blocks.append(ConvBlock(channels, width))
                blocks += [ConvBlock(width, width) for _ in range(config.convs_per_stage - 1)]
            channels = width
            if config.squeeze_excite:
                blocks.append(SqueezeExcite(width))
            blocks.append(nn.MaxPool2d(kernel_size=2))
            stages.append(nn.Sequential(*blocks))
        self.features = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (B, C) for images of shape (B, 3, S, S)."""
        x = self.features(x)
        x = torch.flatten(self.pool(x), 1)
        return self.head(self.dropout(x))

    def cam_layer(self) -> nn.Module:
        """The last stage's output before its pool (a conv block, residual unit or gate): the
        latest activation that still has space, which Grad-CAM reads."""
        last_stage = self.features[-1]
        assert isinstance(last_stage, nn.Sequential) and isinstance(last_stage[-1], nn.MaxPool2d)
        layer: nn.Module = last_stage[-2]
        return layer

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (softmax of the logits), shape (B, C); rows sum to 1."""
        return torch.softmax(self.forward(x).float(), dim=1)


def build_model(config: ModelConfig, num_classes: int) -> Classifier:
    """The classifier for ``num_classes`` classes, freshly initialised (no pre-training).

    Whether an image size leaves the last stage at least one pixel is
    :meth:`ModelConfig.feature_side` (its halvings are this module's stem and pools), which
    ``RunConfig.validate`` checks before any run folder exists.
    """
    config.validate()
    return Classifier(config, num_classes)


@dataclass(frozen=True)
class LayerInfo:
    """One row of the model summary."""

    name: str
    """Dotted module path, e.g. ``features.0.1.0``."""
    kind: str
    """Module class name (Conv2d, BatchNorm2d, ...)."""
    output_shape: tuple[int, ...]
    """Output shape for one image (no batch dimension)."""
    params: int
    """Parameters owned by this layer."""
    mult_adds: int
    """Multiply-adds per image (convolutions and linear layers; 0 elsewhere)."""


@dataclass(frozen=True)
class ModelSummary:
    """The network as data: what the CLI prints as a table and the TUI shows."""

    image_size: int
    num_classes: int
    layers: tuple[LayerInfo, ...]
    total_params: int
    trainable_params: int
    mult_adds: int
    """Multiply-adds of one forward pass for one image."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def summarize(model: nn.Module, image_size: int, in_channels: int = 3) -> ModelSummary:
    """Run one dummy image through ``model`` (on the CPU, eval mode) and record every leaf."""
    layers: list[LayerInfo] = []
    hooks = []

    def make_hook(name: str, module: nn.Module):  # type: ignore[no-untyped-def]
        def hook(_mod: nn.Module, _inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            shape = tuple(out.shape[1:])
            params = sum(p.numel() for p in module.parameters(recurse=False))
            layers.append(LayerInfo(name, type(module).__name__, shape, params, _macs(module, out)))

        return hook

    for name, module in model.named_modules():
        if name and not list(module.children()):
            hooks.append(module.register_forward_hook(make_hook(name, module)))
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    try:
        with torch.inference_mode():
            model(torch.zeros(1, in_channels, image_size, image_size, device=device))
    finally:
        for handle in hooks:
            handle.remove()
        model.train(was_training)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    num_classes = layers[-1].output_shape[0] if layers else 0
    return ModelSummary(
        image_size=image_size,
        num_classes=num_classes,
        layers=tuple(layers),
        total_params=total,
        trainable_params=trainable,
        mult_adds=sum(layer.mult_adds for layer in layers),
    )


def _macs(module: nn.Module, out: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        per_output = (module.in_channels // module.groups) * kh * kw
        return int(out[0].numel() * per_output)
    if isinstance(module, nn.Linear):
        return int(module.in_features * module.out_features)
    return 0
