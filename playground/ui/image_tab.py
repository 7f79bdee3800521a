"""Image tab (placeholder until its issue lands)."""

from playground.ui.placeholder import placeholder


def build(ctx):
    return placeholder("Image", [
        "Drop images or folders; top-5 ImageNet classes with the bundled EfficientNet-Lite0",
        "Grad-CAM heatmaps, object and face detection, batch tables exported to CSV",
    ])
