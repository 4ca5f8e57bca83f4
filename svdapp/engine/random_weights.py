"""SVD-XT pipelines with random weights: tiny ones for tests, full-size ones for benchmarks.

The full-size build uses the released configs (``svd_xt_configs.json``), so compute and
memory match the real 1.5 B-parameter UNet without the gated download. Either can be
saved with ``save_pretrained`` and loaded back through the same ``from_pretrained`` path
users take.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from diffusers import (AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, StableVideoDiffusionPipeline,
                       UNetSpatioTemporalConditionModel)
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
                 num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002,
                 steps_offset=1, timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True)


def tiny_pipeline(seed: int = 0) -> StableVideoDiffusionPipeline:
    """A few-hundred-kilobyte SVD pipeline (the shapes diffusers' own tests use)."""
    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32, num_attention_heads=8, projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32, num_frames=4)
    torch.manual_seed(seed)
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 64], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"], latent_channels=4)
    torch.manual_seed(seed)
    # image_size 224 with a coarse patch keeps the real CLIPImageProcessor path working
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4, image_size=224,
        intermediate_size=37, patch_size=32))
    extractor = CLIPImageProcessor(crop_size={"height": 224, "width": 224}, size={"shortest_edge": 224})
    return StableVideoDiffusionPipeline(vae=vae, image_encoder=encoder, unet=unet,
                                        scheduler=EulerDiscreteScheduler(**SCHEDULER), feature_extractor=extractor)


def full_pipeline(configs: str | os.PathLike, dtype: torch.dtype = torch.float16,
                  device: str | torch.device = "cpu", seed: int = 0) -> StableVideoDiffusionPipeline:
    """The full SVD-XT 1.1 architecture from its configs, randomly initialised."""
    cfg = json.loads(Path(configs).read_text())
    torch.manual_seed(seed)
    with torch.device(device):
        # .to(device) too: a few parameters (AlphaBlender's mix_factor, made with the legacy
        # torch.Tensor constructor) ignore the default device.
        unet = UNetSpatioTemporalConditionModel(**cfg["unet"]).to(device, dtype)
        vae = AutoencoderKLTemporalDecoder(**cfg["vae"]).to(device, dtype)
        enc_cfg = {k: v for k, v in cfg["image_encoder"].items()}
        encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**enc_cfg)).to(device, dtype)
    # Random init of the UNet's zero-initialised out-conv etc. is fine for timing, but keep
    # activations in a sane range so fp16 does not overflow in a 25-step run.
    with torch.no_grad():
        for module in (unet, vae, encoder):
            for p in module.parameters():
                if p.dim() > 1:
                    p.mul_(0.5)
    fe = {k: v for k, v in cfg["feature_extractor"].items() if k != "class"}
    sched = {k: v for k, v in cfg["scheduler"].items() if k != "class"}
    return StableVideoDiffusionPipeline(vae=vae, image_encoder=encoder, unet=unet,
                                        scheduler=EulerDiscreteScheduler(**sched),
                                        feature_extractor=CLIPImageProcessor(**fe))


def save_tiny(folder: str | os.PathLike, seed: int = 0) -> Path:
    """Save a tiny pipeline as a model folder (what ``SVDAPP_MODEL`` can point at)."""
    folder = Path(folder)
    tiny_pipeline(seed).save_pretrained(folder)
    return folder
