"""The token estimates (2·N·D forward, 6·N·D training, Kaplan et al.) for a sequence length asked for: D is what
the model runs. Token ids: the tokens asked for; a vision transformer: its image's positions; a model that reads
no tokens (a CNN): no estimate, and the answer says why."""

from __future__ import annotations

import json

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode

import paramcount
from hf_oracle import shipped, transformers_config, transformers_model
from paramcount.analysis.memory import Assumption
from paramcount.analysis.planner import PlanOptions
from paramcount.render.json import report_dict


def _unwrapped(report: paramcount.Report) -> str:
    """The text answer with its lines joined: a sentence wraps where the width says."""
    return " ".join(str(report).split())


def test_a_vision_transformer_runs_its_image_positions_whatever_the_sequence_length() -> None:
    """ViT-B/16 runs (224/16)² = 196 patches and the class token per image: D = 197 · batch, not seq_len · batch.
    N is every parameter of transformers' ViTModel (it has no embedding table that Kaplan et al. leave out)."""
    config = shipped("google--vit-base-patch16-224-in21k.json")
    n = sum(p.numel() for p in transformers_model(config, "ViTModel").parameters())
    positions = (config["image_size"] // config["patch_size"]) ** 2 + 1
    report = paramcount.count("google/vit-base-patch16-224-in21k").report(PlanOptions(seq_len=10, batch=2), sections=())
    d = positions * 2
    assert [estimate.flops for estimate in report.compute] == [2 * n * d, 6 * n * d, 6 * n * d]
    assert report.compute_basis == Assumption.of(
        "compute-image-positions", positions=positions, patches=positions - 1, images=2, seq_len=10
    )
    assert "D = 197 positions per image × 2 images = 394: a vision transformer's layers run" in _unwrapped(report)
    # the training plan's activations run the same positions
    training = paramcount.count("google/vit-base-patch16-224-in21k").report(
        PlanOptions(optimizer="adamw", seq_len=10, batch=2), sections=()
    )
    assert training.plan is not None
    assert training.plan.activations is not None
    assert (training.plan.activations.seq_len, training.plan.activations.batch) == (positions, 2)
    # an input shape's batch is the number of images
    given = paramcount.count("google/vit-base-patch16-224-in21k").report(
        PlanOptions(seq_len=10), (3, 3, 224, 224), sections=()
    )
    assert given.compute[0].flops == 2 * n * positions * 3


def test_two_n_d_against_flop_counter_mode_on_a_vision_transformer() -> None:
    """How far 2·N·D is from the exact count, FlopCounterMode's on a real forward of a tiny ViT (hidden 64, 2
    layers, 4 heads, MLP 256, 32² images of 8² patches: D = (32/8)² + 1 = 17): N = 117,760, 2·N·D = 4,003,840,
    FlopCounterMode 3,891,712, so the estimate is 2.9 % high. It counts the pooler on every position (it reads the
    class token alone), the patch convolution on the class token, and the biases, norms and position table as
    products; it leaves out attention's QKᵀ and attention·V (2·s²·h MACs per layer), which grow with s: for ViT-B/16
    at 224² (test_hf_compute's FlopCounterMode: 35,127,300,096 FLOPs per image) 2·N·D = 34,037,363,712 is 3.1 %
    low."""
    image, patch = 32, 8
    config = {"model_type": "vit", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
    config |= {"intermediate_size": 256, "image_size": image, "patch_size": patch}
    hf_config = transformers_config(config)
    hf_config._attn_implementation = "eager"  # sdpa's CPU kernel is no product FlopCounterMode counts
    model: torch.nn.Module = transformers.ViTModel(hf_config)
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(pixel_values=torch.randn(1, 3, image, image))
    exact = counter.get_total_flops()
    n = sum(p.numel() for p in model.parameters())
    d = (image // patch) ** 2 + 1
    report = paramcount.from_config_text(json.dumps(config)).report(PlanOptions(seq_len=10), sections=())
    assert report.compute[0].flops == 2 * n * d
    assert (n, d, 2 * n * d, exact) == (117_760, 17, 4_003_840, 3_891_712)


def test_a_cnn_gets_no_token_estimate_and_the_reason() -> None:
    """resnet50 reads an image through conv1: a sequence length is no D, and its inference plan has no use for it."""
    report = paramcount.count("resnet50").report(PlanOptions(seq_len=10), sections=())
    assert report.compute == ()
    assert report.compute_basis is not None
    assert report.compute_basis.kind == "compute-no-tokens"
    reason = (
        "no token estimate: ResNet reads an image (channels × height × width) through conv1 (Conv2d), not token ids, "
        "so the sequence length asked for (10) is no D for 2·N·D (Kaplan et al. count tokens), nor does the memory "
        "plan use it; give input (a shape such as 1,3,224,224) for its exact FLOPs"
    )
    assert report_dict(report)["notes"] == [reason]
    assert report_dict(report)["compute"] == []
    assert "Compute per step No token estimate: ResNet reads an image" in _unwrapped(report)


def test_a_vision_model_whose_plan_takes_the_sequence_length_says_so() -> None:
    """swin_t's training plan estimates activations (Korthikanti et al.) for s = seq_len: the reason says it."""
    report = paramcount.count("swin_t").report(PlanOptions(optimizer="adamw", seq_len=10), sections=())
    assert report.compute == ()
    text = json.dumps(report_dict(report)["notes"])
    assert "the memory plan's activation estimate takes it as the sequence length s" in text


def test_token_models_keep_the_tokens_asked_for() -> None:
    """A language model, a checkpoint read from its header and a transformer layer run the tokens asked for."""
    for query in ("gpt2", "tests/data/checkpoints/tiny-q8_0.gguf", "TransformerEncoderLayer(512, 8)"):
        result = paramcount.count(query)
        report = result.report(PlanOptions(seq_len=16, batch=2), sections=())
        non_embedding = result.total - report.embedding_parameters
        assert (report.compute[0].flops, report.compute_basis) == (2 * non_embedding * 32, None), query
