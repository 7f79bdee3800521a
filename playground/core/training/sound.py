"""Train sound classes from a folder of class sub-folders of audio clips.

Each clip is turned once into features of a pretrained audio model (`playground.core.sound`:
the bundled Whisper tiny.en encoder by default); a small head (an MLP) is trained on them with
the shared loop (`fit`). The folder it saves: `head.safetensors` + `playground_model.json`
(task "audio-classification", labels, the feature extractor and its normalisation).
"""

from __future__ import annotations

from pathlib import Path

from playground.core import sound
from playground.core.errors import InputError
from playground.core.jobs import JobContext
from playground.core.training import defaults, distributed
from playground.core.training.common import make_config, resolve_out
from playground.core.training.data import ClassFolderData, scan_sound_folder, split_indices
from playground.core.training.events import DataReport, TrainResult
from playground.core.training.loop import TrainControl, TrainSpec, fit


class SoundSpec(TrainSpec):
    task = sound.TASK

    def __init__(self, ctx: JobContext, data: ClassFolderData, features: str, batch_size: int,
                 val_share: float, seed: int, hidden: int = 128):
        import numpy as np
        import torch

        self.ctx = ctx
        self.features_name = features
        self.batch_size = int(batch_size)
        self.seed = seed
        self.hidden = int(hidden)
        extractor = sound.featurizer(features, ctx)
        clips, targets, bad = [], [], 0
        n = len(data.files)
        for i, path in enumerate(data.files):
            if i % 10 == 0:
                ctx.check_cancelled()
                ctx.progress(i / n, f"Reading clips {i}/{n}")
            try:
                clips.append(sound.load_clip(path))
                targets.append(data.targets[i])
            except InputError:
                bad += 1
        if bad:
            data.warnings.insert(0, f"Skipped {bad} audio files that could not be read.")
        self.data = data
        feats = []
        for b in range(0, len(clips), 16):
            ctx.check_cancelled()
            ctx.progress(b / max(1, len(clips)), f"Features of the clips {b}/{len(clips)} ({features})")
            feats.append(extractor(clips[b:b + 16]))
        x = np.concatenate(feats) if feats else np.zeros((0, extractor.dim), np.float32)
        self.train_idx, self.val_idx = split_indices(targets, val_share, seed)
        ref = x[self.train_idx]
        self.mean = ref.mean(0)
        self.std = ref.std(0) + 1e-5
        self.x = torch.from_numpy((x - self.mean) / self.std).float()
        self.y = torch.tensor(targets, dtype=torch.long)
        self.dim = int(x.shape[1])
        self.steps_per_epoch = max(1, -(-len(self.train_idx) // self.batch_size))
        torch.manual_seed(seed)
        self.model = sound.build_head(self.dim, len(data.labels), self.hidden)
        self._x_dev = self.x
        self._y_dev = self.y

    def shard(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size
        self.steps_per_epoch = distributed.rank_steps(len(self.train_idx), self.batch_size, world_size)

    def signature(self) -> dict:
        return {"labels": list(self.data.labels), "features": self.features_name, "batch_size": self.batch_size}

    def to(self, device: str) -> None:
        self.model.to(device)
        self._x_dev = self.x.to(device)
        self._y_dev = self.y.to(device)

    def batches(self, epoch: int, start: int, device: str):
        import torch

        batches = self.rank_batches(self.train_idx, epoch)
        for b in range(start, self.steps_per_epoch):
            idx = torch.tensor(batches[b], dtype=torch.long, device=self._x_dev.device)
            x = self._x_dev[idx]
            # A little feature noise: a few dozen clips are easy to memorise.
            yield x + 0.1 * torch.randn_like(x), self._y_dev[idx]

    def loss(self, batch):
        import torch.nn.functional as F

        x, y = batch
        return F.cross_entropy(self.model(x).float(), y), int(y.shape[0])

    def eval_sums(self, device: str, autocast):
        import torch
        import torch.nn.functional as F

        val_idx = distributed.shard(self.val_idx, self.rank, self.world_size)
        if not val_idx:
            return 0.0, 0, 0
        idx = torch.tensor(val_idx, dtype=torch.long, device=self._x_dev.device)
        logits = self.model(self._x_dev[idx]).float()
        y = self._y_dev[idx]
        return float(F.cross_entropy(logits, y, reduction="sum")), int((logits.argmax(1) == y).sum()), len(val_idx)

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().to("cpu").contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(folder / sound.HEAD_FILE), metadata={"format": "pt"})

    def marker(self) -> dict:
        return {"task": self.task, "kind": "sound", "labels": list(self.data.labels),
                "base_model": sound.WHISPER_MODEL if self.features_name == "whisper" else "log-mel statistics",
                "features": self.features_name, "feature_dim": self.dim, "hidden": self.hidden,
                "feature_mean": [float(v) for v in self.mean], "feature_std": [float(v) for v in self.std],
                "clip_seconds": sound.CLIP_SECONDS, "sample_rate": sound.SR}


def train_sound_classifier(ctx: JobContext, data_dir: str | Path, out: str | Path | None = None, *,
                           name: str | None = None, features: str = sound.DEFAULT_EXTRACTOR,
                           resume: bool = False, overwrite: bool = False, control: TrainControl | None = None,
                           **train_options) -> TrainResult:
    """The job: check the folder, compute the clips' features, train the head, save the folder."""
    data = scan_sound_folder(data_dir)
    cfg = make_config(name or "", **defaults.config_options("sound", train_options))
    out_dir = resolve_out(out, name, f"{data.root.name}-sounds", resume, overwrite)
    spec = SoundSpec(ctx, data, features, cfg.batch_size, cfg.val_share, cfg.seed)
    ctx.emit(DataReport("sound", str(data.root), len(spec.train_idx), len(spec.val_idx), list(data.labels),
                        data.counts, data.skipped, list(data.warnings)))
    return fit(ctx, spec, cfg, out_dir, control=control, resume=resume,
               data_meta={"data": str(data.root), "n_train": len(spec.train_idx), "n_val": len(spec.val_idx)})
