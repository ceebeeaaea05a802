"""Grad-CAM: where in the image the evidence for a class came from (Selvaraju et al., 2017).

The class score's gradient with respect to a late convolutional activation, averaged over
space, weighs that activation's channels; the weighted sum, rectified and upsampled to the
input's size, is the map. Works on any model: the layer is found (or given) and read through
a forward hook, so the model needs no special methods.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def cam_layer(model: nn.Module) -> nn.Module:
    """The layer Grad-CAM reads: the model's own choice (a ``cam_layer()`` method), else its
    last ``nn.Conv2d``. A residual network needs the choice: its last registered conv may be a
    shortcut projection, and a squeeze-excite gate's 1x1 convs see no space at all."""
    choose = getattr(model, "cam_layer", None)
    if callable(choose):
        layer: nn.Module = choose()
        return layer
    return last_conv_layer(model)


def last_conv_layer(model: nn.Module) -> nn.Module:
    """The model's last ``nn.Conv2d`` in registration order: the usual Grad-CAM layer."""
    convs = [module for module in model.modules() if isinstance(module, nn.Conv2d)]
    if not convs:
        raise ValueError("Grad-CAM needs a model with at least one nn.Conv2d layer")
    return convs[-1]


def grad_cam(
    model: nn.Module,
    images: torch.Tensor,
    targets: Sequence[int],
    layer: nn.Module | None = None,
) -> torch.Tensor:
    """Grad-CAM maps of ``images`` (B, 3, H, W, normalised) for the class ``targets[i]``.

    Returns a float tensor (B, H, W) in [0, 1] on the images' device; a map that is zero
    everywhere (no positive evidence) stays zero. The model is put in eval mode for the call
    and its previous mode is restored; its parameters' ``.grad`` are not touched.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, 3, H, W), got shape {tuple(images.shape)}")
    if len(targets) != images.shape[0]:
        raise ValueError(f"{len(targets)} targets for {images.shape[0]} images")
    layer = layer if layer is not None else cam_layer(model)
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, output: captured.append(output))
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            logits = model(images)
            activation = captured[-1]
            index = torch.as_tensor(list(targets), device=logits.device).long()
            score = logits.gather(1, index[:, None]).sum()
            (gradient,) = torch.autograd.grad(score, activation)
    finally:
        handle.remove()
        model.train(was_training)
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activation).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)
    cam = cam[:, 0]
    peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None]
    return (cam / peak).float()
