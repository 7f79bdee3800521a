"""The torchvision models the pickers suggest, and whether their weights are downloaded.

Listing them must not import torch or torchvision (seconds on a small machine, in the
model store's scan that every picker waits for, and one that a closing window cannot
interrupt): the checkpoint file names are written here, and a test checks them against
torchvision's own weight URLs.
"""

from __future__ import annotations

from playground.core import download, models

PREFIX = "torchvision/"
# name -> (display name, checkpoint file name in torch's hub cache)
CLASSIFIERS: dict[str, tuple[str, str]] = {
    "resnet50": ("torchvision resnet50", "resnet50-11ad3fa6.pth"),
    "mobilenet_v3_large": ("torchvision mobilenet_v3_large", "mobilenet_v3_large-5c1a4163.pth"),
    "efficientnet_b0": ("torchvision efficientnet_b0", "efficientnet_b0_rwightman-7f5810bc.pth"),
    "convnext_tiny": ("torchvision convnext_tiny", "convnext_tiny-983f1562.pth"),
    "vit_b_16": ("torchvision vit_b_16", "vit_b_16-c867db91.pth"),
}
DETECTORS: dict[str, tuple[str, str]] = {
    "fasterrcnn_mobilenet_v3_large_320_fpn": ("Faster R-CNN MobileNetV3 320 (torchvision, fast)",
                                              "fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth"),
    "fasterrcnn_mobilenet_v3_large_fpn": ("Faster R-CNN MobileNetV3 (torchvision)",
                                          "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth"),
    "ssdlite320_mobilenet_v3_large": ("SSDlite 320 MobileNetV3 (torchvision, smallest)",
                                      "ssdlite320_mobilenet_v3_large_coco-a79551df.pth"),
    "fasterrcnn_resnet50_fpn_v2": ("Faster R-CNN ResNet-50 v2 (torchvision, accurate)",
                                   "fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth"),
    "retinanet_resnet50_fpn_v2": ("RetinaNet ResNet-50 v2 (torchvision)", "retinanet_resnet50_fpn_v2_coco-5905b1c5.pth"),
    "fcos_resnet50_fpn": ("FCOS ResNet-50 (torchvision)", "fcos_resnet50_fpn_coco-99b0c9b7.pth"),
    "ssd300_vgg16": ("SSD300 VGG16 (torchvision)", "ssd300_vgg16_coco-b556d3b4.pth"),
}
# Download sizes of the detectors' COCO weights (MB), shown before anything is downloaded.
DETECTOR_SIZES_MB = {"fasterrcnn_mobilenet_v3_large_320_fpn": 74, "fasterrcnn_mobilenet_v3_large_fpn": 74,
                     "ssdlite320_mobilenet_v3_large": 13, "fasterrcnn_resnet50_fpn_v2": 167,
                     "retinanet_resnet50_fpn_v2": 146, "fcos_resnet50_fpn": 124, "ssd300_vgg16": 136}


def _entries(table: dict[str, tuple[str, str]], task: str, what: str, sizes: dict[str, int]) -> list:
    checkpoints = download.hub_dir() / "checkpoints"
    out = []
    for name, (display, fname) in table.items():
        cached = (checkpoints / fname).is_file()
        size = f" ({sizes[name]} MB)" if name in sizes else ""
        out.append(models.ModelEntry(
            PREFIX + name, task, display, "torchvision", "BSD-3-Clause (torchvision)",
            f"{what} weights from download.pytorch.org{size}", location=str(checkpoints / fname) if cached else None,
            available=cached, unavailable_reason="" if cached else f"Weights not downloaded yet: needs {fname} from "
                                                                   "download.pytorch.org once (a network connection)."))
    return out


def classifier_entries() -> list:
    """The registry's source of torchvision classifiers (image classification)."""
    return _entries(CLASSIFIERS, "image-classification", "ImageNet-1k", {})


def detector_entries() -> list:
    """The registry's source of torchvision COCO detectors (object detection)."""
    return _entries(DETECTORS, "object-detection", "COCO", DETECTOR_SIZES_MB)
