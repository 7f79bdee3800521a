"""Each training job's defaults, in one place: the jobs themselves, the Train tab and
`playground finetune` read them (they used to keep their own copies, and drifted: the text
classifier trained 4 epochs in the app and 3 on the command line).

Imports nothing heavy: the Train tab reads it before its first paint.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("image", "text", "charlm", "sound", "lm")

# Job options beyond the loop's, shared by the jobs' signatures, the CLI and the Train tab.
IMAGE_BACKBONE = "bundled/efficientnet-lite0"  # image classifier: the network fine-tuned
TEXT_ENCODER = "bundled/all-minilm-l6-v2"  # text classifier: the encoder under the new head
LM_BASE = "bundled/smollm2-135m-instruct"  # language model: the base the LoRA adapters tune
IMAGE_SIZE = 224  # image classifier: input size in pixels
TEXT_MAX_LENGTH = 128  # text classifier: tokens per text
LORA_RANK = 16  # language model: LoRA rank on every projection
LM_MAX_LENGTH = 256  # language model: tokens per example


@dataclass(frozen=True)
class JobDefaults:
    """A job's training-loop defaults (`loop.TrainConfig` fields)."""

    length: int  # epochs; for "charlm", steps (it trains by steps)
    batch_size: int
    lr: float
    patience: int  # epochs without a better validation loss before stopping early (0: never)
    val_share: float = 0.2
    checkpoint_every: int = 0  # also checkpoint every N steps (0: at each epoch's end only)
    warmup: float = 0.05
    weight_decay: float = 0.01
    by_steps: bool = False  # `length` counts steps, not epochs

    def config(self) -> dict:
        """The `TrainConfig` fields these defaults set (the steps of a by-steps job are the job's own)."""
        epochs = {} if self.by_steps else {"epochs": self.length}
        return epochs | {"batch_size": self.batch_size, "lr": self.lr, "patience": self.patience,
                         "val_share": self.val_share, "checkpoint_every": self.checkpoint_every,
                         "warmup": self.warmup, "weight_decay": self.weight_decay}


DEFAULTS: dict[str, JobDefaults] = {
    "image": JobDefaults(3, 32, 1e-3, patience=3, checkpoint_every=50),
    "text": JobDefaults(4, 16, 5e-5, patience=3, checkpoint_every=100),
    "charlm": JobDefaults(2000, 32, 2e-3, patience=0, val_share=0.1, checkpoint_every=100, warmup=0.02,
                          by_steps=True),
    "sound": JobDefaults(60, 16, 2e-3, patience=15),
    "lm": JobDefaults(3, 8, 3e-4, patience=2, val_share=0.1, weight_decay=0.0),
}


def for_kind(kind: str) -> JobDefaults:
    try:
        return DEFAULTS[kind]
    except KeyError:
        raise ValueError(f"unknown training kind '{kind}'") from None


def config_options(kind: str, options: dict) -> dict:
    """`options` over the kind's defaults; an option given as None keeps the default."""
    return for_kind(kind).config() | {k: v for k, v in options.items() if v is not None}
