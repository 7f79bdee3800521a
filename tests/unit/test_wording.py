"""Counts read "1 image", "2 images": the shared plural helper."""

from playground.core.wording import plural


def test_plural():
    assert plural(1, "image") == "1 image"
    assert plural(0, "image") == "0 images"
    assert plural(2, "copy", "copies") == "2 copies"
    assert plural(1, "class", "classes") == "1 class"
