"""Shapes and FLOPs of Hugging Face models against the real transformers model under FlopCounterMode.

Each shipped config is cut to two layers and a 512-token vocabulary (the special token ids set to 0 so the
smaller table still holds them), built by transformers on the meta device, moved to the CPU with
``to_empty()`` (no initialisation cost; integer buffers such as ``position_ids`` are then filled as transformers
fills them, the float weights stay garbage, which changes no count), and run once with eager attention and the
eager experts loop. The meta device cannot run a transformers forward (data-dependent masks and routing).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
import torch
import transformers
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.utils.checkpoint import set_checkpoint_early_stop
from torch.utils.flop_counter import FlopCounterMode

from hf_oracle import counted_class, shipped, transformers_class
from paramcount.analysis.shapes.propagate import propagate
from paramcount.analysis.shapes.types import MODELLED, NOT_CALLED, ShapeReport
from paramcount.errors import ShapeError
from paramcount.sources.hf import build_config_tree
from paramcount.sources.hf._registry import spec_for
from paramcount.sources.hf.hub import CONFIGS
from paramcount.tree import iter_modules
from shape_oracle import expanded_paths, grouped_weight_gradient_extra

SPECIAL_TOKENS = ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id")


def cut(config: dict[str, Any], layers: int = 2, vocab: int = 512) -> dict[str, Any]:
    """The config with ``layers`` layers and a ``vocab``-token vocabulary; a vision-language config's towers
    (``text_config``, ``vision_config``) with ``layers`` layers each, whether they state a count or not."""
    smaller = dict(config)
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        if key in smaller:
            smaller[key] = layers
    for key in ("layer_types", "attention_layers"):
        if isinstance(smaller.get(key), list):
            smaller[key] = smaller[key][:layers]
    if "attention_types" in smaller:  # GPT-Neo lays its layers out again: one [[kind], 1] per layer kept
        smaller["attention_types"] = [[[kind], 1] for kind in smaller["attention_layers"]]
    smaller["vocab_size"] = vocab
    if "decoder_vocab_size" in smaller:  # Marian's decoder table (tied to the ForCausalLM's lm_head)
        smaller["decoder_vocab_size"] = vocab
    smaller.update({key: 0 for key in SPECIAL_TOKENS if key in smaller})
    for key in ("text_config", "vision_config"):
        if isinstance(smaller.get(key), dict):
            tower = cut(smaller[key], layers, vocab) if key == "text_config" else dict(smaller[key])
            smaller[key] = tower | {"num_hidden_layers": layers}
    return smaller


def transformers_model(config: dict[str, Any], architecture: str) -> transformers.PreTrainedModel:
    settings_ = {key: value for key, value in config.items() if key not in ("architectures", "transformers_version")}
    hf_config = transformers.AutoConfig.for_model(**settings_)
    hf_config._attn_implementation = "eager"
    hf_config._experts_implementation = "eager"
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        model: transformers.PreTrainedModel = transformers_class(architecture)(hf_config)
    model.to_empty(device="cpu")
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if buffer.is_floating_point():
                continue
            if name.endswith("position_ids"):
                buffer.copy_(torch.arange(buffer.shape[-1]).expand_as(buffer))
            else:  # token_type_ids
                buffer.zero_()
    return model


def transformers_flops(
    config: dict[str, Any],
    architecture: str,
    shape: tuple[int, ...],
    *,
    backward: bool,
    checkpointing: bool = False,
    early_stop: bool = True,
) -> int:
    """FlopCounterMode's total for one forward pass on token ids of ``shape`` (batch, sequence), or (batch,
    source, target) for an encoder-decoder, or (batch, target) for Whisper (its encoder on the log-mel features of
    its fixed window), or pixel values (batch, channels, height, width), and the backward of the sum of the first
    output in training mode (``checkpointing``: with transformers' gradient checkpointing, whose backward runs
    the forward of each checkpointed layer again, up to the layer's last saved tensor with torch's default early
    stop, whole with ``early_stop`` False; see ``test_checkpoint_early_stop_skips_a_last_product``)."""
    model = transformers_model(config, architecture)
    model.train(backward)
    if checkpointing:
        model.activation_checkpointing_enable()  # transformers 5's name for gradient_checkpointing_enable
    if config["model_type"] == "whisper":
        frames = 2 * config["max_source_positions"]  # conv1 keeps the length, conv2 halves it
        inputs = {
            "input_features": torch.randn(shape[0], config["num_mel_bins"], frames),
            "decoder_input_ids": torch.randint(0, 100, shape),
        }
    elif architecture.endswith("ForMultipleChoice"):  # (batch, choices, sequence) token ids
        # ModernBERT's mean pooling reads the attention mask, and fails without one.
        inputs = {"input_ids": torch.randint(0, 100, shape), "attention_mask": torch.ones(shape, dtype=torch.long)}
    elif config["model_type"] in ("wav2vec2", "hubert"):  # the raw waveform (batch, samples)
        inputs = {"input_values": torch.randn(shape)}
        if backward and architecture.endswith("ForPreTraining"):  # the contrastive loss, as output[0]
            inputs |= contrastive_targets(model, shape)
    elif architecture == "Siglip2ForImageClassification":  # NaFlex patches (batch, patches, channels·patch²)
        inputs = naflex_image(shape)
    elif config.get("is_encoder_decoder") and not architecture.endswith(
        ("EncoderModel", "ForTokenClassification", "ForCausalLM")
    ):
        # (batch, source[, target]) token ids; a sequence classifier's sources each end with their one
        # end-of-sequence token (0 in the cut config), where it reads the decoder's state.
        low = 1 if architecture.endswith("ForSequenceClassification") else 0
        inputs = {
            "input_ids": torch.randint(low, 100, shape[:2]),
            "decoder_input_ids": torch.randint(0, 100, (shape[0], shape[-1])),
        }
        inputs["input_ids"][:, -1] = 0
    elif hasattr(model.config, "vision_config"):
        inputs = text_and_image(model, shape)
    elif len(shape) == 2:
        inputs = {"input_ids": torch.randint(0, 100, shape)}
    else:
        inputs = {"pixel_values": torch.randn(shape)}
    logits: list[torch.Tensor] = []  # the LM head's output, kept for a model that fails after computing it
    head = model.get_output_embeddings()  # type: ignore[no-untyped-call]
    if head is not None:
        head.register_forward_hook(lambda _module, _inputs, result: logits.append(result))
    with warnings.catch_warnings(), set_checkpoint_early_stop(early_stop), FlopCounterMode(display=False) as counter:
        warnings.simplefilter("ignore")
        try:
            output = model(**inputs)
        except AttributeError as failure:
            # transformers 5.24's Llama4ForConditionalGeneration computes the logits, then fails building its
            # output object (it reads image_outputs from the language model's output): every product has run,
            # and the backward starts from the logits its LM head returned.
            if "image_outputs" not in str(failure):
                raise
            output = (logits[-1],)
        if backward:
            output[0].float().sum().backward()
    total: int = counter.get_total_flops()
    return total


def contrastive_targets(model: Any, shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """What wav2vec 2.0's pre-training loss reads, fixed instead of sampled: every other frame masked
    (``mask_time_indices``, which _compute_mask_indices would draw) and ``num_negatives`` distractors per frame
    (``sampled_negative_indices``, which _sample_negative_indices would draw), indices counting through the batch's
    frames. Which frames and distractors changes no product: the loss's cosine similarities are elementwise."""
    batch, samples = shape
    frames = int(model._get_feat_extract_output_lengths(samples))
    negatives = model.config.num_negatives
    masked = torch.zeros(batch, frames, dtype=torch.bool)
    masked[:, ::2] = True
    drawn = torch.arange(batch * frames * negatives).remainder(batch * frames).view(batch, frames, negatives)
    return {"mask_time_indices": masked, "sampled_negative_indices": drawn}


def naflex_image(shape: tuple[int, ...], size: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
    """SigLIP 2's NaFlex input for ``shape`` (batch, patches, channels·patch²): images of ``size`` (height, width)
    patches, the rest of the patches padding (masked), or square images whose grid fills the patches; with their
    ``pixel_attention_mask`` and ``spatial_shapes``."""
    batch, patches, _ = shape
    grid = int(patches**0.5)
    height, width = size or (grid, grid)
    real = height * width
    return {
        "pixel_values": torch.randn(shape),
        "pixel_attention_mask": torch.tensor([[1] * real + [0] * (patches - real)] * batch),
        "spatial_shapes": torch.tensor([[height, width]] * batch),
    }


def naflex_flops(
    config: dict[str, Any], architecture: str, shape: tuple[int, ...], size: tuple[int, int], read: str | None
) -> int:
    """FlopCounterMode's total for SigLIP 2's ``architecture`` on ``naflex_image(shape, size)``, and in training
    (``read`` given) the backward of the sum of the output's member ``read``."""
    model = transformers_model(config, architecture)
    model.train(read is not None)
    with warnings.catch_warnings(), FlopCounterMode(display=False) as counter:
        warnings.simplefilter("ignore")
        output = model(**naflex_image(shape, size))
        if read is not None:
            getattr(output, read).sum().backward()
    total: int = counter.get_total_flops()
    return total


QWEN_IMAGE = 448
"""The side of the image given to Qwen-VL, whose processor takes any size."""


def text_and_image(model: Any, shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """A vision-language model's inputs for token ids of ``shape`` (batch, sequence): one image per sequence
    at the vision config's ``image_size``, its tokens as placeholder ids at the first positions of the sequence, as
    many as ``image_placement`` says."""
    batch = shape[0]
    ids = torch.randint(0, 100, shape)
    config = model.config
    vision = config.vision_config
    if hasattr(vision, "temporal_patch_size"):
        # Qwen-VL: a 448² image (a multiple of patch_size·spatial_merge_size, as smart_resize leaves it), one frame,
        # its patches flattened as the processor hands them, one token per spatial_merge_size² patches.
        grid = QWEN_IMAGE // vision.patch_size
        ids[:, : image_placement(model)[0]] = config.image_token_id
        width = vision.in_channels * vision.temporal_patch_size * vision.patch_size**2
        return {
            "input_ids": ids,
            "pixel_values": torch.randn(batch * grid * grid, width),
            "image_grid_thw": torch.tensor([[1, grid, grid]] * batch),
            "mm_token_type_ids": (ids == config.image_token_id).int(),
        }
    tokens, pixels, extra = image_placement(model)
    if tokens:
        ids[:, :tokens] = model.config.image_token_id
    inputs = {"input_ids": ids, "pixel_values": torch.randn(batch, *pixels)}
    return inputs | {name: torch.tensor([value] * batch) for name, value in extra.items()}


def image_placement(model: Any) -> tuple[int, tuple[int, ...], dict[str, list[int]]]:
    """How many image tokens one image at the vision config's ``image_size`` takes in the sequence (0 for CLIP and
    SigLIP, which score texts against images), the shape of its pixel values without the batch, and the per-image
    inputs beside them (``image_sizes``), each as transformers' own code or a derivation from it says:

    - LLaVA: the patch grid² (plus the class token with the "full" strategy); Gemma 3: ``mm_tokens_per_image``;
      PaliGemma: the grid² it writes into ``text_config.num_image_tokens``;
    - LLaVA-NeXT and LLaVA-OneVision: ``image_size_to_num_patches`` tiles, packed by the model's own
      ``pack_image_features`` (features of the tiles' grid² patches each);
    - Idefics3 and SmolVLM: one frame, the model's ``image_seq_len``;
    - Mistral 3: ``get_image_features``' split size, (image_size // (patch_size · spatial_merge_size))²;
    - Llama 4: its tile's patches folded by ``pixel_shuffle_ratio``² (Qwen-VL's flattened patches are built in
      ``text_and_image``).
    """
    config = model.config
    vision = config.vision_config
    if hasattr(vision, "temporal_patch_size"):  # Qwen-VL: its flattened patches are built in text_and_image
        return (QWEN_IMAGE // vision.patch_size // vision.spatial_merge_size) ** 2, (), {}
    if config.model_type == "siglip2":  # NaFlex: a square image as num_patches (a grid²) flattened patches
        grid = int(vision.num_patches**0.5)
        patches = (grid * grid, vision.num_channels * vision.patch_size**2)
        return 0, patches, {"pixel_attention_mask": [1] * grid * grid, "spatial_shapes": [grid, grid]}
    side, channels = vision.image_size, vision.num_channels
    image = (channels, side, side)
    kind = config.model_type
    if kind in ("llava_next", "llava_onevision"):
        from transformers.models.llava_next.modeling_llava_next import image_size_to_num_patches

        tiles = image_size_to_num_patches((side, side), config.image_grid_pinpoints, side)
        grid = side // vision.patch_size
        features = [torch.zeros(tiles, grid * grid, config.text_config.hidden_size)]
        how = {"vision_aspect_ratio": config.vision_aspect_ratio} if kind == "llava_onevision" else {
            "vision_feature_select_strategy": config.vision_feature_select_strategy
        }  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, lengths = model.model.pack_image_features(
                features, torch.tensor([[side, side]]), image_newline=model.model.image_newline, **how
            )
        return int(lengths[0]), (tiles, *image), {"image_sizes": [side, side]}
    if kind in ("idefics3", "smolvlm"):
        return model.model.image_seq_len, (1, *image), {}
    if kind == "mistral3":
        merged = side // (vision.patch_size * config.spatial_merge_size)
        return merged * merged, image, {"image_sizes": [side, side]}
    if kind == "paligemma":
        return config.text_config.num_image_tokens, image, {}
    if hasattr(config, "mm_tokens_per_image"):
        return config.mm_tokens_per_image, image, {}
    if hasattr(vision, "pixel_shuffle_ratio"):  # Llama 4: the patches folded 2×2 (ratio 0.5)
        return int((side // vision.patch_size) ** 2 * vision.pixel_shuffle_ratio**2), image, {}
    if hasattr(config, "image_token_id"):
        grid = side // vision.patch_size
        return grid * grid + (config.vision_feature_select_strategy == "full"), image, {}
    return 0, image, {}


def ours(config: dict[str, Any], architecture: str, shape: tuple[int, ...]) -> ShapeReport:
    return propagate(build_config_tree(config, architecture=architecture), shape)


DECODERS = [
    "meta-llama--Llama-3.2-1B.json",
    "Qwen--Qwen2.5-7B.json",
    "Qwen--Qwen3-8B.json",
    "mistralai--Mistral-7B-v0.1.json",
    "google--gemma-7b.json",
    "google--gemma-2-9b.json",
    "google--gemma-3-1b-it.json",
    "microsoft--phi-2.json",
    "microsoft--Phi-3-mini-4k-instruct.json",
    "gpt2.json",
    "bert-base-uncased.json",
    "FacebookAI--roberta-base.json",
    "distilbert--distilbert-base-uncased.json",
    "bigscience--bloom-560m.json",
    "tiiuae--falcon-7b.json",
    "tiiuae--falcon-40b.json",
    "EleutherAI--gpt-j-6b.json",
    "EleutherAI--pythia-160m.json",
    "facebook--opt-350m.json",
    "openai-community--openai-gpt.json",
    "allenai--OLMo-7B-hf.json",
    "ibm-granite--granite-3.1-8b-instruct.json",
    "HuggingFaceTB--SmolLM3-3B.json",
    "bigcode--starcoder2-15b.json",
    "stabilityai--stablelm-2-1_6b.json",
    "allenai--OLMo-2-1124-7B.json",
    "CohereForAI--c4ai-command-r-v01.json",
    "CohereForAI--c4ai-command-r7b-12-2024.json",
    "THUDM--GLM-4-9B-0414.json",
    "EleutherAI--gpt-neo-1.3B.json",
    "Salesforce--codegen-350M-mono.json",
    "bigcode--starcoder.json",
    "mosaicml--mpt-7b.json",
    "state-spaces--mamba-130m-hf.json",
    "mistralai--Mamba-Codestral-7B-v0.1.json",
]
MIXTURES = [
    "mistralai--Mixtral-8x7B-v0.1.json",
    "Qwen--Qwen3-30B-A3B.json",
    "Qwen--Qwen1.5-MoE-A2.7B.json",
    "deepseek-ai--DeepSeek-V3.json",
    "allenai--OLMoE-1B-7B-0924.json",
    "ibm-granite--granite-3.1-3b-a800m-instruct.json",
    "deepseek-ai--DeepSeek-V2-Lite.json",
    "zai-org--GLM-4.5-Air.json",
    "openai--gpt-oss-20b.json",
    "microsoft--Phi-3.5-MoE-instruct.json",
    "ai21labs--AI21-Jamba-1.5-Mini.json",
    "tiiuae--Falcon-H1-0.5B-Base.json",
    "Qwen--Qwen3-Next-80B-A3B-Instruct.json",
]
SMALLER: dict[str, dict[str, Any]] = {
    # One dense layer and one MoE layer, with 16 experts in 4 groups (2 groups chosen, 8 experts per token) and
    # narrower feed-forward widths, so the CPU holds the weights.
    "deepseek-ai--DeepSeek-V3.json": {
        "first_k_dense_replace": 1, "n_routed_experts": 16, "n_group": 4, "topk_group": 2,
        "moe_intermediate_size": 256, "intermediate_size": 1024,
    },
    # Fewer, narrower experts (gpt-oss: an intermediate width other than the hidden width, so the layout of its
    # expert weights, hidden first, matters).
    "deepseek-ai--DeepSeek-V2-Lite.json": {"n_routed_experts": 16, "moe_intermediate_size": 256},
    "zai-org--GLM-4.5-Air.json": {"n_routed_experts": 16, "moe_intermediate_size": 256, "intermediate_size": 1024},
    "openai--gpt-oss-20b.json": {"num_local_experts": 8, "intermediate_size": 512},
    "microsoft--Phi-3.5-MoE-instruct.json": {"num_local_experts": 4, "intermediate_size": 512},
    # Mixtral at two layers of 8 full-width experts is 2.8 B parameters: with gradients, more than a CI machine holds.
    "mistralai--Mixtral-8x7B-v0.1.json": {"num_local_experts": 4, "intermediate_size": 1024},
    # Hybrids: the second of the two layers is an attention layer (a cache of linear-attention layers only fails
    # in transformers' get_seq_length); Jamba's is also its MoE layer.
    "ai21labs--AI21-Jamba-1.5-Mini.json": {
        "num_experts": 4, "intermediate_size": 512, "attn_layer_period": 2, "attn_layer_offset": 1,
    },
    "Qwen--Qwen3-Next-80B-A3B-Instruct.json": {"num_experts": 16, "full_attention_interval": 2},
}  # fmt: skip


ENCODERS = [
    "FacebookAI--xlm-roberta-base.json",
    "albert--albert-base-v2.json",  # two steps over its one shared layer group
    "google--electra-base-discriminator.json",
]


@pytest.mark.parametrize("name", DECODERS + MIXTURES + ENCODERS)
def test_forward_flops_equal_flop_counter_mode(name: str) -> None:
    # Mixtures of experts: transformers' eager experts loop multiplies each expert's weights with the tokens
    # routed to it only, so FlopCounterMode counts tokens · num_experts_per_tok expert passes, as we do.
    config = cut(shipped(name)) | SMALLER.get(name, {})
    architecture = counted_class(config)
    report = ours(config, architecture, (2, 16))
    assert report.is_complete
    assert report.total_flops == transformers_flops(config, architecture, (2, 16), backward=False)


HEADS = [
    # Every head class of the encoder and GPT-style families, each on its family's narrowest shipped config.
    *(("gpt2.json", f"GPT2{head}") for head in ("DoubleHeadsModel", "ForSequenceClassification",
                                                "ForTokenClassification", "ForQuestionAnswering")),
    *(("openai-community--openai-gpt.json", f"OpenAIGPT{head}") for head in ("DoubleHeadsModel",
                                                                            "ForSequenceClassification")),
    *(("EleutherAI--gpt-j-6b.json", f"GPTJ{head}") for head in ("ForSequenceClassification", "ForQuestionAnswering")),
    *(("EleutherAI--gpt-neo-1.3B.json", f"GPTNeo{head}") for head in ("ForSequenceClassification",
                                                                     "ForTokenClassification", "ForQuestionAnswering")),
    *(("EleutherAI--pythia-160m.json", f"GPTNeoX{head}") for head in ("ForSequenceClassification",
                                                                     "ForTokenClassification", "ForQuestionAnswering")),
    *(("bigcode--starcoder.json", f"GPTBigCode{head}") for head in ("ForSequenceClassification",
                                                                   "ForTokenClassification")),
    *(("bigscience--bloom-560m.json", f"Bloom{head}") for head in ("ForSequenceClassification",
                                                                  "ForTokenClassification", "ForQuestionAnswering")),
    *(("tiiuae--falcon-7b.json", f"Falcon{head}") for head in ("ForSequenceClassification",
                                                              "ForTokenClassification", "ForQuestionAnswering")),
    *(("mosaicml--mpt-7b.json", f"Mpt{head}") for head in ("ForSequenceClassification", "ForTokenClassification",
                                                          "ForQuestionAnswering")),
    *(("facebook--opt-125m.json", f"OPT{head}") for head in ("ForSequenceClassification", "ForQuestionAnswering")),
    ("google--gemma-3-1b-it.json", "Gemma3TextForSequenceClassification"),
    ("meta-llama--Llama-3.2-1B.json", "LlamaForQuestionAnswering"),  # its base is `transformer`
    ("mistralai--Mistral-7B-v0.1.json", "MistralForQuestionAnswering"),  # its base is `model`
    *(("bert-base-uncased.json", f"Bert{head}") for head in ("ForPreTraining", "LMHeadModel",
                                                            "ForNextSentencePrediction", "ForSequenceClassification",
                                                            "ForMultipleChoice", "ForTokenClassification",
                                                            "ForQuestionAnswering")),
    *((name, f"{prefix}{head}") for name, prefix in (("FacebookAI--roberta-base.json", "Roberta"),
                                                    ("FacebookAI--xlm-roberta-base.json", "XLMRoberta"),
                                                    ("google--electra-base-discriminator.json", "Electra"))
      for head in ("ForCausalLM", "ForSequenceClassification", "ForMultipleChoice", "ForTokenClassification",
                   "ForQuestionAnswering")),
    *(("albert--albert-base-v2.json", f"Albert{head}") for head in ("ForPreTraining", "ForSequenceClassification",
                                                                   "ForMultipleChoice", "ForTokenClassification",
                                                                   "ForQuestionAnswering")),
    *((name, f"{prefix}{head}") for name, prefix in (("distilbert--distilbert-base-uncased.json", "DistilBert"),
                                                    ("microsoft--deberta-v3-base.json", "DebertaV2"),
                                                    ("sentence-transformers--all-mpnet-base-v2.json", "MPNet"),
                                                    ("answerdotai--ModernBERT-base.json", "ModernBert"))
      for head in ("ForSequenceClassification", "ForMultipleChoice", "ForTokenClassification",
                   "ForQuestionAnswering")),
    ("google--vit-base-patch16-224-in21k.json", "ViTForImageClassification"),
    ("facebook--dinov2-base.json", "Dinov2ForImageClassification"),
    ("google--siglip-base-patch16-224.json", "SiglipForImageClassification"),
    *(("openai--clip-vit-base-patch32.json", f"CLIP{tower}") for tower in ("VisionModel", "VisionModelWithProjection",
                                                                            "TextModelWithProjection")),
    ("t5-small.json", "T5EncoderModel"),
    *((name, f"{prefix}{head}") for name, prefix in (("google--mt5-small.json", "MT5"), ("google--umt5-small.json",
                                                                                       "UMT5"))
      for head in ("EncoderModel", "ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering")),
    ("facebook--bart-base.json", "BartForSequenceClassification"),
    ("facebook--mbart-large-50.json", "MBartForSequenceClassification"),
    ("facebook--mbart-large-50.json", "MBartForQuestionAnswering"),
]  # fmt: skip


def head_input(architecture: str) -> tuple[int, ...]:
    """Two sequences of 16 tokens; a multiple-choice model's are two questions of three choices each; an image
    model's two images of 224 × 224 pixels."""
    if architecture.endswith("ForMultipleChoice"):
        return (2, 3, 16)
    return (2, 3, 224, 224) if "Vision" in architecture or architecture.endswith("ImageClassification") else (2, 16)


@pytest.mark.parametrize(("name", "architecture"), HEADS)
def test_head_flops_equal_flop_counter_mode(name: str, architecture: str) -> None:
    # A padding token, so a decoder's sequence classifier can find each sequence's last token in a batch of two;
    # no torch_dtype, which GenericForSequenceClassification's AutoModel would honour and its score would not.
    config = {key: value for key, value in cut(shipped(name)).items() if key != "torch_dtype"} | {"pad_token_id": 0}
    if config.get("is_encoder_decoder"):
        config |= TWO_LAYERS
    shape = head_input(architecture)
    report = ours(config, architecture, shape)
    assert report.is_complete
    counted = config
    if architecture.startswith(("CLIPVision", "CLIPText")):  # transformers builds a tower from its own config
        tower = "vision" if architecture.startswith("CLIPVision") else "text"
        counted = config[f"{tower}_config"] | {"model_type": f"clip_{tower}_model"}
    assert report.total_flops == transformers_flops(counted, architecture, shape, backward=False)


def test_llama4_language_model_flops_equal_flop_counter_mode() -> None:
    # Llama 4 Scout's text model, four layers: rope, rope, rope, no-rope (queries scaled, no qk_norm); dense MLP
    # layers between MoE layers; 4 narrower experts. transformers' Llama4TextExperts runs every token through
    # every expert (bmm over all of them, the router's score 0 for those not chosen), and so do we.
    text = shipped("meta-llama--Llama-4-Scout-17B-16E-Instruct.json")["text_config"]
    config = cut(text, layers=4) | {
        "num_local_experts": 4, "intermediate_size": 256, "intermediate_size_mlp": 512, "moe_layers": [1, 3],
        "no_rope_layers": [1, 1, 1, 0], "attention_chunk_size": 8,
    }  # fmt: skip
    report = ours(config, "Llama4ForCausalLM", (2, 16))
    assert report.is_complete
    assert report.total_flops == transformers_flops(config, "Llama4ForCausalLM", (2, 16), backward=False)


@settings(max_examples=6)
@given(
    length=st.integers(4, 40),
    chunk=st.sampled_from([4, 8, 256]),
    groups=st.sampled_from([1, 2, 8]),
    state=st.sampled_from([16, 128]),
)
def test_mamba2_chunked_scan_equals_flop_counter_mode(length: int, chunk: int, groups: int, state: int) -> None:
    # The slow torch path pads the sequence to whole chunks: 1 to 10 chunks here, the last one partly padding.
    # From conv_kernel (4) tokens on: a shorter prefill through transformers' cache (use_cache, the default in
    # eval) is left-padded to conv_kernel tokens for the convolution, which a forward without a cache is not.
    config = cut(shipped("mistralai--Mamba-Codestral-7B-v0.1.json")) | {
        "hidden_size": 256, "num_heads": 8, "head_dim": 64, "chunk_size": chunk, "n_groups": groups,
        "state_size": state,
    }  # fmt: skip
    shape = (2, length)
    report = ours(config, "Mamba2ForCausalLM", shape)
    assert report.total_flops == transformers_flops(config, "Mamba2ForCausalLM", shape, backward=False)


@settings(max_examples=6, deadline=None)
@given(
    layers=st.integers(1, 4),
    attention=st.integers(1, 3).flatmap(lambda period: st.tuples(st.just(period), st.integers(0, period - 1))),
    experts=st.integers(1, 3).flatmap(lambda period: st.tuples(st.just(period), st.integers(0, period - 1))),
    length=st.integers(1, 20),
)
def test_jamba_layer_layouts_equal_flop_counter_mode(
    layers: int, attention: tuple[int, int], experts: tuple[int, int], length: int
) -> None:
    # Attention every attn_layer_period-th layer from attn_layer_offset, the rest Mamba (RMSNorms on the step, B
    # and C); MoE every expert_layer_period-th layer. Without a cache: a stack of Mamba layers only fails in
    # transformers' cache (get_seq_length), and a cached prefill pads the convolution's input (see Mamba-2 below).
    config = cut(shipped("ai21labs--AI21-Jamba-1.5-Mini.json"), layers=layers) | {
        "hidden_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96,
        "num_experts": 4, "mamba_dt_rank": 16, "attn_layer_period": attention[0], "attn_layer_offset": attention[1],
        "expert_layer_period": experts[0], "expert_layer_offset": experts[1], "use_cache": False,
    }  # fmt: skip
    shape = (2, length)
    assert ours(config, "JambaForCausalLM", shape).total_flops == transformers_flops(
        config, "JambaForCausalLM", shape, backward=False
    )


@settings(max_examples=6, deadline=None)
@given(
    norm=st.booleans(),
    groups=st.sampled_from([1, 2]),
    chunk=st.sampled_from([4, 8, 128]),
    length=st.integers(4, 30),
)
def test_falcon_h1_mixer_switches_equal_flop_counter_mode(norm: bool, groups: int, chunk: int, length: int) -> None:
    # The Mamba-2 mixer with or without its gated RMSNorm (mamba_rms_norm), B and C in one or two groups, the
    # sequence padded to whole chunks; the µP multipliers are elementwise.
    config = cut(shipped("tiiuae--Falcon-H1-0.5B-Base.json")) | {
        "hidden_size": 128, "num_attention_heads": 4, "head_dim": 32, "intermediate_size": 96, "mamba_d_ssm": 128,
        "mamba_n_heads": 4, "mamba_d_head": 32, "mamba_d_state": 16, "mamba_rms_norm": norm,
        "mamba_n_groups": groups, "mamba_chunk_size": chunk,
    }  # fmt: skip
    shape = (2, length)
    assert ours(config, "FalconH1ForCausalLM", shape).total_flops == transformers_flops(
        config, "FalconH1ForCausalLM", shape, backward=False
    )


@settings(max_examples=6, deadline=None)
@given(
    layers=st.integers(1, 4),
    interval=st.integers(1, 3),
    heads=st.sampled_from([(2, 2), (2, 4), (1, 4)]),
    sparse=st.sampled_from([(1, []), (2, []), (1, [0])]),
    length=st.integers(1, 140),
)
def test_qwen3_next_delta_rule_equals_flop_counter_mode(
    layers: int, interval: int, heads: tuple[int, int], sparse: tuple[int, list[int]], length: int
) -> None:
    # The gated DeltaNet's chunked delta rule over 1 to 3 chunks of 64 tokens (the last one partly padding), with
    # key heads repeated to the value heads; full (gated) attention every full_attention_interval-th layer; MoE
    # layers every decoder_sparse_step-th layer except mlp_only_layers. Forward and backward: the backward holds the
    # triangular solves' products (hybrids.py derives both). Without a cache (see the Jamba test).
    key_heads, value_heads = heads
    config = cut(shipped("Qwen--Qwen3-Next-80B-A3B-Instruct.json"), layers=layers) | {
        "hidden_size": 128, "num_attention_heads": 4, "head_dim": 32, "intermediate_size": 96,
        "moe_intermediate_size": 32, "shared_expert_intermediate_size": 48, "num_experts": 4,
        "num_experts_per_tok": 2, "linear_num_key_heads": key_heads, "linear_num_value_heads": value_heads,
        "linear_key_head_dim": 16, "linear_value_head_dim": 24, "full_attention_interval": interval,
        "decoder_sparse_step": sparse[0], "mlp_only_layers": sparse[1], "use_cache": False,
    }  # fmt: skip
    shape = (2, length)
    tree = build_config_tree(config, architecture="Qwen3NextForCausalLM")
    report = propagate(tree, shape)
    assert report.total_flops == transformers_flops(config, "Qwen3NextForCausalLM", shape, backward=False)
    theirs = transformers_flops(config, "Qwen3NextForCausalLM", shape, backward=True)
    assert 2 * (report.total_macs + report.total_backward_macs) + grouped_weight_gradient_extra(tree, report) == theirs


ENCODER_DECODERS = [
    "facebook--bart-base.json",
    "facebook--bart-large.json",
    "google-t5--t5-small.json",
    "google--flan-t5-base.json",
    "Helsinki-NLP--opus-mt-en-de.json",
    "facebook--mbart-large-50.json",
    "google--pegasus-xsum.json",
    "google--mt5-small.json",
    "google--umt5-small.json",
]
SPEECH = ["openai--whisper-tiny.json", "openai--whisper-large-v3.json"]
TWO_LAYERS = {"num_decoder_layers": 2, "decoder_layers": 2, "encoder_layers": 2}


@pytest.mark.parametrize("name", ENCODER_DECODERS)
@pytest.mark.parametrize("shape", [(2, 16), (2, 24, 7)])
def test_encoder_decoder_flops_equal_flop_counter_mode(name: str, shape: tuple[int, ...]) -> None:
    # (batch, source): the decoder reads as many tokens; (batch, source, target): its own length. Cross-attention
    # multiplies target × source positions.
    config = cut(shipped(name)) | TWO_LAYERS
    architecture = counted_class(config)
    report = ours(config, architecture, shape)
    assert report.is_complete
    assert report.total_flops == transformers_flops(config, architecture, shape, backward=False)


@settings(max_examples=10, deadline=None)
@given(
    name=st.sampled_from(ENCODER_DECODERS),
    layers=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 30), st.integers(1, 30)),
    heads=st.sampled_from([2, 4]),
)
def test_random_small_encoder_decoders_equal_flop_counter_mode(
    name: str, layers: tuple[int, int], shape: tuple[int, int, int], heads: int
) -> None:
    # Post-norm (BART, Marian) and pre-norm (mBART, Pegasus) layers, learned and sinusoidal positions, T5's
    # ReLU and gated feed-forward, one relative bias (T5, mT5) or one per layer (UMT5); encoder and decoder of
    # different depths, source and target of different lengths.
    encoder, decoder = layers
    width = 16 * heads
    config = cut(shipped(name)) | {
        "d_model": width, "num_hidden_layers": encoder, "encoder_layers": encoder, "num_layers": encoder,
        "decoder_layers": decoder, "num_decoder_layers": decoder, "encoder_attention_heads": heads,
        "decoder_attention_heads": heads, "num_heads": heads, "d_kv": 16, "encoder_ffn_dim": 3 * width,
        "decoder_ffn_dim": 3 * width, "d_ff": 3 * width,
    }  # fmt: skip
    architecture = counted_class(config)
    assert ours(config, architecture, shape).total_flops == transformers_flops(
        config, architecture, shape, backward=False
    )


DECODERS_ALONE = {
    "Helsinki-NLP--opus-mt-en-de.json": "MarianForCausalLM",
    "facebook--mbart-large-50.json": "MBartForCausalLM",
    "google--pegasus-xsum.json": "PegasusForCausalLM",
}


@pytest.mark.parametrize("name", list(DECODERS_ALONE))
@pytest.mark.parametrize("shape", [(1, 1), (2, 16)])
def test_decoder_alone_flops_equal_flop_counter_mode(name: str, shape: tuple[int, ...]) -> None:
    # The ForCausalLM runs model.decoder on (batch, sequence) token ids with no encoder_hidden_states: every layer
    # skips its cross-attention block (encoder_attn and its norm, present in the tree, are not called), its
    # self-attention is causal, and lm_head reads the decoder's output (no final_logits_bias).
    config = cut(shipped(name)) | TWO_LAYERS
    architecture = DECODERS_ALONE[name]
    tree = build_config_tree(config, architecture=architecture)
    report = propagate(tree, shape)
    assert report.is_complete
    assert report.output_shape == (*shape, 512)
    assert report.tokens == shape[0] * shape[1]
    skipped = {row.path for row in report.modules if row.status == NOT_CALLED}
    cross = "model.decoder.layers.0-1.encoder_attn"
    projections = (f"{cross}.{projection}" for projection in ("q_proj", "k_proj", "v_proj", "out_proj"))
    assert skipped == {f"{cross}_layer_norm", cross, *projections}
    batch, length = shape
    heads_width = config["d_model"]
    # 2 layers · batch · (L·L·width for QKᵀ + as many for attention·V), L·(L-1)/2 of each L² masked.
    assert report.masked_macs == 2 * batch * (length * (length - 1) // 2) * 2 * heads_width
    assert report.total_flops == transformers_flops(config, architecture, shape, backward=False)
    theirs = transformers_flops(config, architecture, shape, backward=True)
    assert 2 * (report.total_macs + report.total_backward_macs) == theirs


def test_a_decoder_alone_refuses_what_transformers_refuses() -> None:
    # transformers unpacks (batch, sequence) from the embeddings' shape, and mBART's learned table holds
    # max_position_embeddings + 2 rows (positions offset by 2): 1,024 positions for mbart-large-50.
    tree = build_config_tree(shipped("facebook--mbart-large-50.json"), architecture="MBartForCausalLM")
    with pytest.raises(
        ShapeError, match=r"^MBartForCausalLM expects token ids of shape \(batch, sequence\), got \[1, 3, 4\]"
    ):
        propagate(tree, (1, 3, 4))
    with pytest.raises(ShapeError, match=r"reads positions 0 to 1024 \+ 2 \(the offset of its positions\)"):
        propagate(tree, (1, 1025))
    assert propagate(tree, (1, 1024)).is_complete


@settings(max_examples=10, deadline=None)
@given(
    name=st.sampled_from(list(DECODERS_ALONE)),
    layers=st.integers(1, 3),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 30)),
    heads=st.sampled_from([2, 4]),
    ffn=st.integers(1, 4),
)
def test_random_small_decoders_alone_equal_flop_counter_mode(
    name: str, layers: int, shape: tuple[int, int], heads: int, ffn: int
) -> None:
    # Post-norm (Marian) and pre-norm (mBART, Pegasus) layers, learned and sinusoidal positions, with the
    # encoder deeper than the decoder (the ForCausalLM builds the decoder only; transformers sizes its cache by
    # num_hidden_layers, the encoder's depth, and fails on a decoder deeper than that).
    width = 16 * heads
    config = cut(shipped(name)) | {
        "d_model": width, "num_hidden_layers": layers + 1, "encoder_layers": layers + 1, "decoder_layers": layers,
        "decoder_attention_heads": heads, "encoder_attention_heads": heads, "decoder_ffn_dim": ffn * width,
        "encoder_ffn_dim": width,
    }  # fmt: skip
    architecture = DECODERS_ALONE[name]
    report = ours(config, architecture, shape)
    assert report.total_flops == transformers_flops(config, architecture, shape, backward=False)
    assert 2 * (report.total_macs + report.total_backward_macs) == transformers_flops(
        config, architecture, shape, backward=True
    )


@pytest.mark.parametrize("name", SPEECH)
@pytest.mark.parametrize("target", [1, 9])
def test_whisper_flops_equal_flop_counter_mode(name: str, target: int) -> None:
    # Input (batch, target) decoder tokens; the encoder reads (batch, mel bins, 3000) log-mel features, through
    # conv1 and conv2 (stride 2) to 1500 positions, and the decoder's cross-attention multiplies target × 1500.
    config = cut(shipped(name)) | TWO_LAYERS
    architecture = counted_class(config)
    report = ours(config, architecture, (2, target))
    assert report.is_complete
    encoder = next(row for row in report.modules if row.path == "model.encoder")
    assert (encoder.input_shape, encoder.output_shape) == (
        (2, config["num_mel_bins"], 3000),
        (2, 1500, config["d_model"]),
    )
    assert report.output_shape == (2, target, 512)
    assert report.total_flops == transformers_flops(config, architecture, (2, target), backward=False)


def test_whisper_refuses_what_transformers_refuses() -> None:
    tree = build_config_tree(shipped("openai--whisper-tiny.json"))
    with pytest.raises(ShapeError, match=r"expects \(batch, target\) decoder token ids .* got \[1, 80, 3000\]"):
        propagate(tree, (1, 80, 3000))
    # transformers: "IndexError"-free slice, then the add fails: weight[:449] holds 448 rows
    with pytest.raises(ShapeError, match=r"reads positions 0 to 448 from embed_positions, which has 448 rows"):
        propagate(tree, (1, 449))


def test_vision_transformer_flops_equal_flop_counter_mode() -> None:
    config = cut(shipped("google--vit-base-patch16-224-in21k.json"))
    report = ours(config, "ViTModel", (2, 3, 224, 224))
    assert (report.output_shape, report.tokens) == ((2, 197, 768), None)
    assert report.total_flops == transformers_flops(config, "ViTModel", (2, 3, 224, 224), backward=False)
    # transformers checks the image's size before it makes the patches; the answer says what the table holds.
    model = transformers_model(config, "ViTModel")
    with pytest.raises(ValueError, match=re.escape("Input image size (256*256) doesn't match model (224*224).")):
        model(torch.empty((2, 3, 256, 256)))
    message = (
        "embeddings: ViTEmbeddings reads 196 patches of 16×16 (a 224×224 image): position_embeddings holds a row for "
        "each and one for the class token; got a 256×256 image (256 patches)"
    )
    with pytest.raises(ShapeError, match=f"^{re.escape(message)}$"):
        ours(config, "ViTModel", (2, 3, 256, 256))


@pytest.mark.parametrize("shape", [(1, 3, 518, 518), (2, 3, 224, 280)])
def test_dinov2_flops_equal_flop_counter_mode(shape: tuple[int, ...]) -> None:
    # At the configured 518² the 37² patches match the position table; at 224×280 (16×20 patches) transformers
    # interpolates the table (bicubic: FlopCounterMode counts no FLOPs for it, nor do we).
    config = cut(shipped("facebook--dinov2-base.json"))
    report = ours(config, "Dinov2Model", shape)
    patches = (shape[2] // 14) * (shape[3] // 14)
    assert (report.output_shape, report.other_outputs) == (
        (shape[0], patches + 1, 768),
        (("pooler_output", (shape[0], 768)),),
    )
    assert report.total_flops == transformers_flops(config, "Dinov2Model", shape, backward=False)


QWEN_TEXT: dict[str, Any] = {
    "image_token_id": 511,
    "hidden_size": 512,
    "intermediate_size": 1024,
    "num_attention_heads": 4,
}
QWEN_TEXT |= {"num_key_value_heads": 2, "torch_dtype": "float32"}
NARROW_TEXT = {
    "hidden_size": 512, "intermediate_size": 1024, "num_attention_heads": 8, "num_key_value_heads": 8,
    "torch_dtype": "float32",
}  # fmt: skip
VISION_LANGUAGE: dict[str, dict[str, Any]] = {
    # (2, 16) token ids and two images at the configured size, every width as shipped.
    "openai--clip-vit-base-patch32.json": {},
    "google--siglip-base-patch16-224.json": {},
    "google--siglip2-base-patch16-224.json": {},
    # LLaVA: the image's 576 tokens (24² patches of a 336² image, the class token dropped) and 16 text tokens;
    # the Llama decoder narrowed (it is proven at full width above) so the CPU holds it, in float32 like the
    # vision tower (its sub-config says float16, which AutoModel builds it in); image id 511 < vocab.
    "llava-hf--llava-1.5-7b-hf.json": {
        "image_token_index": 511,
        "text_config": {
            "hidden_size": 512,
            "intermediate_size": 1024,
            "num_attention_heads": 8,
            "torch_dtype": "float32",
        },
    },
    # Gemma 3: a 448² image (32² patches, pooled 2×2 to the configured 256 tokens) instead of 896² (64² patches,
    # pooled 4×4), whose 4,096-patch eager attention would need gigabytes on the CPU.
    "google--gemma-3-4b-it.json": {"vision_config": {"image_size": 448}},
    # Qwen-VL: two vision blocks (their count is "depth") at full width on a 448² image (32² patches of 14 pixels,
    # 256 tokens; Qwen3-VL 28² of 16, 196 tokens), Qwen2.5-VL's first block windowed, its second (index 1) full, and
    # Qwen3-VL's deepstack mergers on both; the text model narrowed to 512 (4 heads of 128: the M-RoPE sections
    # cover 64 frequencies), image id 511 < vocab.
    "Qwen--Qwen2-VL-7B-Instruct.json": QWEN_TEXT | {"vision_config": {"depth": 2, "hidden_size": 512}},
    "Qwen--Qwen2.5-VL-7B-Instruct.json": QWEN_TEXT
    | {"vision_config": {"depth": 2, "out_hidden_size": 512, "fullatt_block_indexes": [1]}},
    "Qwen--Qwen3-VL-4B-Instruct.json": {
        "image_token_id": 511,
        "text_config": QWEN_TEXT | {"intermediate_size": 1024},
        "vision_config": {"depth": 2, "out_hidden_size": 512, "deepstack_visual_indexes": [0, 1]},
    },
    # Llama 4: one 336² tile (24² patches, a class token; folded 2×2 to 144 tokens), the text model narrowed as in
    # the language-model test above: a rope and a no-rope layer, each a mixture of 4 experts.
    "meta-llama--Llama-4-Scout-17B-16E-Instruct.json": {
        "image_token_index": 511,
        "text_config": QWEN_TEXT
        | {"intermediate_size": 256, "intermediate_size_mlp": 512, "num_local_experts": 4, "no_rope_layers": [1, 0]},
    },
    # The text models narrowed as LLaVA's, the image id 511 (inside the vocabulary, never drawn for the text).
    "llava-hf--llava-v1.6-mistral-7b-hf.json": {"image_token_index": 511, "text_config": NARROW_TEXT},
    "llava-hf--llava-onevision-qwen2-0.5b-ov-hf.json": {"image_token_index": 511, "text_config": NARROW_TEXT},
    "google--paligemma-3b-pt-224.json": {"image_token_index": 511, "projection_dim": 512, "text_config": NARROW_TEXT},
    "HuggingFaceM4--Idefics3-8B-Llama3.json": {"image_token_id": 511, "text_config": NARROW_TEXT},
    "HuggingFaceTB--SmolVLM2-2.2B-Instruct.json": {"image_token_id": 511, "text_config": NARROW_TEXT},
    # Mistral 3: Pixtral at 224² (16² patches) instead of 1540² (110² patches: a 12,100-position eager attention).
    "mistralai--Mistral-Small-3.1-24B-Instruct-2503.json": {
        "image_token_index": 511, "vision_config": {"image_size": 224}, "text_config": NARROW_TEXT,
    },
}  # fmt: skip
IMAGE_TOKENS = {
    "llava-hf--llava-1.5-7b-hf.json": 576,  # 24² patches of a 336² image, the class token dropped
    "google--gemma-3-4b-it.json": 256,  # mm_tokens_per_image
    # AnyRes: 336² fits 336×672 (the first pinpoint with the least padding): 3 tiles of 24² features; the 24×48
    # grid cropped back to the square image, 24×24, plus one newline per row: 576 + 24·25.
    "llava-hf--llava-v1.6-mistral-7b-hf.json": 576 + 24 * 25,
    # 384² fits 384×384 (no padding): 2 tiles of 27² (SigLIP has no class token; "full"); 729 + 27·28.
    "llava-hf--llava-onevision-qwen2-0.5b-ov-hf.json": 729 + 27 * 28,
    "google--paligemma-3b-pt-224.json": 16 * 16,  # 224² in 14² patches
    "HuggingFaceM4--Idefics3-8B-Llama3.json": 13 * 13,  # 364² in 14² patches: 26², pixel-shuffled 2×2
    "HuggingFaceTB--SmolVLM2-2.2B-Instruct.json": 9 * 9,  # 384² in 14² patches: 27², pixel-shuffled 3×3
    "mistralai--Mistral-Small-3.1-24B-Instruct-2503.json": 8 * 8,  # 224² in 14² patches: 16², merged 2×2
    "Qwen--Qwen2-VL-7B-Instruct.json": 256,  # 448² in 14² patches: 32², merged 2×2
    "Qwen--Qwen2.5-VL-7B-Instruct.json": 256,
    "Qwen--Qwen3-VL-4B-Instruct.json": 196,  # 448² in 16² patches: 28², merged 2×2
    "meta-llama--Llama-4-Scout-17B-16E-Instruct.json": 144,  # 336² in 14² patches: 24², pixel-shuffled 2×2
}


def merged(config: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``config`` with ``changes`` applied, nested objects key by key."""
    result = dict(config)
    for key, value in changes.items():
        result[key] = merged(result[key], value) if isinstance(value, dict) else value
    return result


@pytest.mark.parametrize("name", VISION_LANGUAGE)
def test_vision_language_flops_equal_flop_counter_mode(name: str) -> None:
    config = merged(cut(shipped(name)), VISION_LANGUAGE[name])
    architecture = counted_class(config)
    image_tokens = IMAGE_TOKENS.get(name, 0)
    shape = (2, image_tokens + 16)
    report = ours(config, architecture, shape)
    assert report.is_complete
    assert report.total_flops == transformers_flops(config, architecture, shape, backward=False)
    if image_tokens:  # as many image tokens as transformers places, and a sequence one shorter refused
        assert image_placement(transformers_model(config, architecture))[0] == image_tokens
        with pytest.raises(ShapeError, match=rf"puts the image's {image_tokens} tokens in the sequence, which holds"):
            ours(config, architecture, (2, image_tokens - 1))


CHECKPOINTED_TOWERS = [
    "openai--clip-vit-base-patch32.json", "google--gemma-3-4b-it.json", "Qwen--Qwen2.5-VL-7B-Instruct.json",
    "Qwen--Qwen3-VL-4B-Instruct.json", "meta-llama--Llama-4-Scout-17B-16E-Instruct.json",
    "HuggingFaceTB--SmolVLM2-2.2B-Instruct.json", "mistralai--Mistral-Small-3.1-24B-Instruct-2503.json",
]  # fmt: skip
"""One of each kind of vision tower and text decoder, trained with gradient checkpointing too (every model of
VISION_LANGUAGE passed once; kept cheap)."""


@pytest.mark.parametrize(
    ("name", "checkpointing"),
    [*((name, False) for name in VISION_LANGUAGE), *((name, True) for name in CHECKPOINTED_TOWERS)],
)
def test_vision_language_training_flops_equal_flop_counter_mode(name: str, checkpointing: bool) -> None:
    # Forward and the backward of the sum of the logits (CLIP and SigLIP: logits_per_image). The pixel values need
    # no gradient, so the patch embedding computes its weight's gradient only, every product after it both
    # operands'; the image's tokens replace placeholder embeddings (masked_scatter, no product) and the token
    # embedding's output needs a gradient, so every product of the text decoder computes both too. LLaVA and
    # LLaVA-NeXT read the vision tower's second-to-last hidden state (vision_feature_layer -2): its last layer runs
    # but no gradient reaches it. With gradient checkpointing, transformers recomputes each layer of the text
    # decoder and of the vision encoders (CLIP's text tower too, the Qwen-VL blocks, Pixtral's and Llama 4's
    # layers): our recompute is their forward up to each layer's last saved tensor, as torch's default early stop
    # recomputes it (see test_checkpoint_early_stop_skips_a_last_product).
    config = merged(cut(shipped(name)), VISION_LANGUAGE[name])
    architecture = counted_class(config)
    shape = (2, IMAGE_TOKENS.get(name, 0) + 16)
    assert_equal_training_flops(config, architecture, shape, checkpointing=checkpointing)


def assert_equal_training_flops(
    config: dict[str, Any], architecture: str, shape: tuple[int, ...], *, checkpointing: bool
) -> None:
    """Our training step (with gradient checkpointing's recompute when ``checkpointing``) equals FlopCounterMode's
    count over the real model's forward and backward."""
    tree = build_config_tree(config, architecture=architecture)
    report = propagate(tree, shape)
    assert report.training is not None
    ours_total = report.training.total_checkpointed if checkpointing else report.training.total
    theirs = transformers_flops(config, architecture, shape, backward=True, checkpointing=checkpointing)
    assert ours_total + grouped_weight_gradient_extra(tree, report) == theirs


@settings(max_examples=8, deadline=None)
@given(
    name=st.sampled_from(["llava-hf--llava-1.5-7b-hf.json", "mistralai--Mistral-Small-3.1-24B-Instruct-2503.json"]),
    layers=st.integers(1, 3),
    chosen=st.lists(st.integers(-5, 4), min_size=1, max_size=2),
    listed=st.booleans(),
    checkpointing=st.booleans(),
)
def test_unread_vision_layers_get_no_gradient(
    name: str, layers: int, chosen: list[int], listed: bool, checkpointing: bool
) -> None:
    # transformers runs every layer of the tower and the projector reads hidden_states[i] for each i of
    # vision_feature_layer (one index, or on LLaVA a list side by side): the output of layer i - 1, 0 the
    # embeddings'. The layers after the last one read run forward only: no gradient, no recompute under gradient
    # checkpointing. An index outside the layers + 1 hidden states fails in transformers (IndexError), as ours.
    chosen = chosen if listed and name.startswith("llava") else chosen[:1]
    read = chosen if len(chosen) > 1 else chosen[0]
    config, architecture, tokens = small_vision_language(name, 56, {"vision_feature_layer": read})
    config = merged(config, {"vision_config": {"num_hidden_layers": layers}})
    shape = (2, tokens + 3)
    if any(not -layers - 1 <= index <= layers for index in chosen):
        with pytest.raises(ShapeError, match=rf"reads vision_feature_layer .* of the {layers + 1} hidden states"):
            ours(config, architecture, shape)
        with pytest.raises(IndexError, match="index out of range"):
            transformers_flops(config, architecture, shape, backward=False)
        return
    if read == 0:  # transformers 5.24 captures the hidden states it names, and takes 0 for none
        with pytest.raises(ShapeError, match=rf"reads vision_feature_layer 0, .* -{layers + 1} names the same"):
            ours(config, architecture, shape)
        with pytest.raises(TypeError, match="not subscriptable"):
            transformers_flops(config, architecture, shape, backward=False)
        return
    assert_equal_training_flops(config, architecture, shape, checkpointing=checkpointing)


SMALL_ENCODER = {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 96}


@settings(max_examples=8, deadline=None)
@given(
    layers=st.integers(1, 5),
    groups=st.integers(1, 3),
    inner=st.integers(1, 2),
    embedding=st.sampled_from([32, 64]),
    length=st.integers(1, 20),
)
def test_albert_layer_groups_equal_flop_counter_mode(
    layers: int, groups: int, inner: int, embedding: int, length: int
) -> None:
    # Step i of num_hidden_layers runs group int(i / (layers / groups)) (some groups run more often than others;
    # with more groups than layers, some never run); each group runs its inner_group_num layers.
    config = cut(shipped("albert--albert-base-v2.json"), layers=layers) | SMALL_ENCODER
    config |= {"num_hidden_groups": groups, "inner_group_num": inner, "embedding_size": embedding}
    shape = (2, length)
    report = ours(config, "AlbertForMaskedLM", shape)
    assert report.is_complete
    assert report.total_flops == transformers_flops(config, "AlbertForMaskedLM", shape, backward=False)


@settings(max_examples=6, deadline=None)
@given(
    architecture=st.sampled_from(["ElectraForPreTraining", "ElectraForMaskedLM", "ElectraModel"]),
    embedding=st.sampled_from([32, 64]),
    length=st.integers(1, 20),
)
def test_electra_variants_equal_flop_counter_mode(architecture: str, embedding: int, length: int) -> None:
    # An embedding width other than the hidden width adds embeddings_project.
    config = cut(shipped("google--electra-base-discriminator.json")) | SMALL_ENCODER | {"embedding_size": embedding}
    shape = (2, length)
    assert ours(config, architecture, shape).total_flops == transformers_flops(
        config, architecture, shape, backward=False
    )


@settings(max_examples=6, deadline=None)
@given(swiglu=st.booleans(), height=st.integers(1, 5), width=st.integers(1, 5))
def test_dinov2_variants_equal_flop_counter_mode(swiglu: bool, height: int, width: int) -> None:
    # The SwiGLU FFN; any image of whole 14-pixel patches (the position table interpolated to its grid).
    config = cut(shipped("facebook--dinov2-base.json")) | SMALL_ENCODER | {"use_swiglu_ffn": swiglu}
    shape = (2, 3, 14 * height, 14 * width)
    assert ours(config, "Dinov2Model", shape).total_flops == transformers_flops(
        config, "Dinov2Model", shape, backward=False
    )


SMALL_TOWER = {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 96}


@settings(max_examples=6, deadline=None)
@given(
    name=st.sampled_from(["google--siglip-base-patch16-224.json", "llava-hf--llava-1.5-7b-hf.json"]),
    strategy=st.sampled_from(["default", "full"]),
    layers=st.sampled_from([-2, [-2, -1]]),
    text=st.integers(1, 12),
)
def test_vision_language_switches_equal_flop_counter_mode(
    name: str, strategy: str, layers: int | list[int], text: int
) -> None:
    # Small towers at a 112² image (SigLIP: 7² patches of 16 pixels; LLaVA: 8² of 14); LLaVA with or without the
    # class token among the image's tokens, and one or two vision hidden states side by side into the projector.
    vision = SMALL_TOWER | {"image_size": 112}
    changes: dict[str, Any] = {"vision_config": vision, "text_config": SMALL_TOWER | {"torch_dtype": "float32"}}
    image_tokens = 0
    if name.startswith("llava"):
        changes |= {"image_token_index": 511, "vision_feature_select_strategy": strategy}
        changes["vision_feature_layer"] = layers
        image_tokens = (112 // 14) ** 2 + (strategy == "full")
    config = merged(cut(shipped(name)), changes)
    architecture = counted_class(config)
    shape = (2, image_tokens + text)
    assert ours(config, architecture, shape).total_flops == transformers_flops(
        config, architecture, shape, backward=False
    )


QWEN_VL = ["Qwen--Qwen2-VL-7B-Instruct.json", "Qwen--Qwen2.5-VL-7B-Instruct.json", "Qwen--Qwen3-VL-4B-Instruct.json"]


@settings(max_examples=8, deadline=None)
@given(
    name=st.sampled_from(QWEN_VL),
    depth=st.integers(1, 3),
    window=st.sampled_from([56, 112, 168, 448]),
    chosen=st.sets(st.integers(0, 2)),
    patch=st.sampled_from([14, 16]),
    text=st.integers(1, 12),
)
def test_qwen_vl_switches_equal_flop_counter_mode(
    name: str, depth: int, window: int, chosen: set[int], patch: int, text: int
) -> None:
    # Small towers on the 448² image in patches of 14 or 16 pixels (32² or 28² patches, merged 2×2); Qwen2.5-VL
    # with windows of 56 to 448 pixels (2 to 16 merged tokens a side: the last window of a row shorter where they
    # do not divide the grid) and any blocks attending to the whole image; Qwen3-VL's deepstack mergers on any
    # of its blocks (or none).
    blocks = sorted(index for index in chosen if index < depth)
    # cut() gives the tower num_hidden_layers, which transformers reads as depth over the config's own "depth".
    vision: dict[str, Any] = {"depth": depth, "num_hidden_layers": depth, "num_heads": 4, "patch_size": patch}
    if name.startswith("Qwen--Qwen2-VL"):
        vision |= {"embed_dim": 64, "hidden_size": 256}
    else:
        vision |= {"hidden_size": 64, "intermediate_size": 96, "out_hidden_size": 256}
    if name.startswith("Qwen--Qwen2.5"):
        vision |= {"window_size": window, "fullatt_block_indexes": blocks}
    if name.startswith("Qwen--Qwen3"):
        vision |= {"deepstack_visual_indexes": blocks}
    small = QWEN_TEXT | {
        "hidden_size": 256,
        "intermediate_size": 512,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    }
    changes = {"vision_config": vision} | ({"image_token_id": 511, "text_config": small} if "Qwen3" in name else small)
    config = merged(cut(shipped(name)), changes)
    architecture = counted_class(config)
    shape = (2, (448 // patch // 2) ** 2 + text)
    assert ours(config, architecture, shape).total_flops == transformers_flops(
        config, architecture, shape, backward=False
    )


NAFLEX_IMAGES = {
    "grid": st.integers(2, 5),  # the position table's grid side
    "height": st.integers(1, 5),  # the image's patches
    "width": st.integers(1, 5),
    "padding": st.integers(0, 3),  # masked patches after them
}


@settings(max_examples=8, deadline=None)
@given(**NAFLEX_IMAGES, patch=st.sampled_from([4, 16]), head=st.booleans(), backward=st.booleans())
def test_siglip2_vision_tower_equal_flop_counter_mode(
    grid: int, height: int, width: int, padding: int, patch: int, head: bool, backward: bool
) -> None:
    # SigLIP 2's tower on any image the NaFlex processor prepares: height×width patches of patch² pixels, padded
    # to `patches` (masked), its grid²-row position table resized to them by one product (weights @ table, whose
    # backward gives the table's gradient); with or without the attention-pooling head, forward or training.
    config = {"model_type": "siglip2_vision_model", "num_hidden_layers": 2, "num_patches": grid * grid}
    config |= SMALL_TOWER | {"patch_size": patch, "vision_use_head": head}
    patches = height * width + padding
    shape = (2, patches, 3 * patch * patch)
    report = ours(config, "Siglip2VisionModel", shape)
    assert report.is_complete
    # In training, the head's output, which depends on everything, else the hidden states.
    read = ("pooler_output" if head else "last_hidden_state") if backward else None
    theirs = naflex_flops(config, "Siglip2VisionModel", shape, (height, width), read)
    assert 2 * (report.total_macs + report.total_backward_macs * backward) == theirs


@settings(max_examples=8, deadline=None)
@given(**NAFLEX_IMAGES, head=st.booleans(), labels=st.integers(1, 4), backward=st.booleans())
def test_siglip2_image_classifier_equals_flop_counter_mode(
    grid: int, height: int, width: int, padding: int, head: bool, labels: int, backward: bool
) -> None:
    # The classifier on any NaFlex image (height×width real patches, `padding` masked ones): the mean over the real
    # patches (a masked sum over their count, no products), then the classifier; the tower's pooling head, when it
    # has one, runs but never reaches the logits, so in training no gradient reaches it.
    vision = SMALL_TOWER | {"num_patches": grid * grid, "patch_size": 4, "vision_use_head": head}
    config = merged(cut(shipped("google--siglip2-base-patch16-224.json")), {"vision_config": vision})
    config["num_labels"] = labels
    patches = height * width + padding
    shape = (2, patches, 3 * 4 * 4)
    report = ours(config, "Siglip2ForImageClassification", shape)
    assert report.is_complete
    assert report.output_shape == (2, labels)
    read = "logits" if backward else None
    theirs = naflex_flops(config, "Siglip2ForImageClassification", shape, (height, width), read)
    assert 2 * (report.total_macs + report.total_backward_macs * backward) == theirs


def test_vision_language_sequences_hold_the_image_tokens() -> None:
    with pytest.raises(ShapeError, match=r"^model: LlavaModel puts the image's 576 tokens in the sequence, which"):
        propagate(build_config_tree(shipped("llava-hf--llava-1.5-7b-hf.json")), (1, 575))
    report = propagate(build_config_tree(shipped("google--gemma-3-4b-it.json")), (2, 300))
    # 896² pixels in 14² patches: 64² patches, average-pooled 4×4 to 16² = 256 tokens (mm_tokens_per_image).
    assert [row.output_shape for row in report.modules if row.path == "model.multi_modal_projector"] == [(2, 256, 2560)]
    assert report.tokens == 600  # every position of the sequences, the image's included
    with pytest.raises(ShapeError, match=r"^text_model.embeddings: CLIPTextEmbeddings reads positions 0 to 77 from"):
        propagate(build_config_tree(shipped("openai--clip-vit-base-patch32.json")), (1, 78))
    # Qwen2-VL: a 448² image in 14² patches, 32² patches merged 2×2 into 256 tokens; Llama 4: 24² patches of a
    # 336² tile folded 2×2 into 144.
    with pytest.raises(ShapeError, match=r"^model: Qwen2VLModel puts the image's 256 tokens in the sequence, which"):
        propagate(build_config_tree(shipped("Qwen--Qwen2-VL-7B-Instruct.json")), (1, 255))
    with pytest.raises(ShapeError, match=r"^Llama4ForConditionalGeneration puts the image's 144 tokens in the seq"):
        propagate(build_config_tree(shipped("meta-llama--Llama-4-Scout-17B-16E-Instruct.json")), (1, 143))
    headless = merged(shipped("google--siglip-base-patch16-224.json"), {"vision_config": {"vision_use_head": False}})
    with pytest.raises(ShapeError, match=r"^SiglipModel scores the vision tower's pooler_output, which a SigLIP"):
        propagate(build_config_tree(headless), (1, 64))


SMALL_TEXT = SMALL_TOWER | {"num_key_value_heads": 2, "head_dim": 16, "torch_dtype": "float32"}
ANYRES = ["llava-hf--llava-v1.6-mistral-7b-hf.json", "llava-hf--llava-onevision-qwen2-0.5b-ov-hf.json"]
IDEFICS3 = ["HuggingFaceM4--Idefics3-8B-Llama3.json", "HuggingFaceTB--SmolVLM2-2.2B-Instruct.json"]


def small_vision_language(name: str, side: int, changes: dict[str, Any]) -> tuple[dict[str, Any], str, int]:
    """The shipped config with small towers, a side² image and ``changes``, its class, and the image's tokens as
    transformers places them."""
    vision = SMALL_TOWER | {"image_size": side, "head_dim": 16}  # Pixtral's rotary reads head_dim, its attention not
    config = merged(cut(shipped(name)), {"vision_config": vision, "text_config": SMALL_TEXT} | changes)
    config["image_token_index" if "image_token_index" in config else "image_token_id"] = 511
    architecture = counted_class(config)
    return config, architecture, image_placement(transformers_model(config, architecture))[0]


def assert_equal_flops_and_tokens(
    config: dict[str, Any], architecture: str, tokens: int, shape: tuple[int, int]
) -> None:
    assert ours(config, architecture, shape).total_flops == transformers_flops(
        config, architecture, shape, backward=False
    )
    with pytest.raises(ShapeError, match=rf"puts the image's {tokens} tokens in the sequence"):
        ours(config, architecture, (shape[0], tokens - 1))


@pytest.mark.parametrize("model_type", ["llava_next", "llava_onevision"])
def test_anyres_facts_are_transformers_defaults(model_type: str) -> None:
    # A config that leaves out image_grid_pinpoints gets its class's (set in __post_init__), the tile size its
    # vision config's image_size, OneVision its vision_aspect_ratio.
    facts = dict(build_config_tree({"model_type": model_type}).children[0].attributes)
    theirs = transformers.AutoConfig.for_model(model_type)
    assert facts["image_grid_pinpoints"] == tuple(tuple(pair) for pair in theirs.image_grid_pinpoints)
    assert facts["vision_config.image_size"] == theirs.vision_config.image_size
    assert facts.get("vision_aspect_ratio") == getattr(theirs, "vision_aspect_ratio", None)


@settings(max_examples=8, deadline=None)
@given(
    name=st.sampled_from(ANYRES),
    grid=st.integers(2, 5),
    pinpoints=st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3)), min_size=1, max_size=4),
    most=st.integers(1, 9),
    batch=st.integers(1, 2),
    text=st.integers(1, 8),
)
def test_anyres_tiles_equal_flop_counter_mode(
    name: str, grid: int, pinpoints: list[tuple[int, int]], most: int, batch: int, text: int
) -> None:
    # A (14·grid)² image and pinpoints of 1 to 3 tiles a side: the tower runs the base tile and the chosen
    # pinpoint's tiles; the grid's features are cropped back to the square image, and OneVision shrinks a grid of
    # more than anyres_max_<most> tiles' worth (bilinearly: FlopCounterMode counts no FLOPs for it, nor do we).
    side = 14 * grid
    changes: dict[str, Any] = {"image_grid_pinpoints": [[side * rows, side * columns] for rows, columns in pinpoints]}
    if "onevision" in name:
        changes["vision_aspect_ratio"] = f"anyres_max_{most}"
    config, architecture, tokens = small_vision_language(name, side, changes)
    assert_equal_flops_and_tokens(config, architecture, tokens, (batch, tokens + text))


@settings(max_examples=8, deadline=None)
@given(
    name=st.sampled_from(IDEFICS3),
    scale=st.integers(1, 4),
    grid=st.integers(2, 12),
    batch=st.integers(1, 2),
    text=st.integers(1, 8),
)
def test_pixel_shuffle_equals_flop_counter_mode(name: str, scale: int, grid: int, batch: int, text: int) -> None:
    # A frame of grid² patches folded scale_factor × scale_factor; a grid whose side is not a multiple of it is
    # refused, as transformers' pixel_shuffle fails to view it.
    config, architecture, tokens = small_vision_language(name, 14 * grid, {"scale_factor": scale})
    shape = (batch, tokens + text)
    if grid % scale:
        with pytest.raises(ShapeError, match=rf"pixel-shuffles {grid * grid} patches by scale_factor {scale}, which"):
            ours(config, architecture, shape)
        with pytest.raises(RuntimeError, match="is invalid for input of size"):
            transformers_flops(config, architecture, shape, backward=False)
        return
    assert_equal_flops_and_tokens(config, architecture, tokens, shape)


@settings(max_examples=8, deadline=None)
@given(
    merge=st.integers(1, 3),
    blocks=st.integers(2, 4),
    partial=st.booleans(),
    extra=st.integers(0, 13),
    batch=st.integers(1, 3),
    text=st.integers(1, 8),
)
def test_pixtral_patch_merger_equals_flop_counter_mode(
    merge: int, blocks: int, partial: bool, extra: int, batch: int, text: int
) -> None:
    # Images of (14·patches + extra)² pixels (the convolution floors the extra pixels), merged merge × merge (a
    # partial block dropped, as unfold drops it); the batch's images are one sequence in Pixtral's attention, so its
    # products grow with the square of the batch. At least 2² tokens per image: transformers squeezes the
    # projected features, so a batch of one 1-token image loses its token dimension and fails.
    name = "mistralai--Mistral-Small-3.1-24B-Instruct-2503.json"
    side = 14 * (merge * blocks + (partial and merge > 1)) + extra
    config, architecture, tokens = small_vision_language(name, side, {"spatial_merge_size": merge})
    assert_equal_flops_and_tokens(config, architecture, tokens, (batch, tokens + text))


@settings(max_examples=4, deadline=None)
@given(text_type=st.sampled_from(["gemma", "gemma2"]), grid=st.integers(2, 8), batch=st.integers(1, 2))
def test_paligemma_variants_equal_flop_counter_mode(text_type: str, grid: int, batch: int) -> None:
    # PaliGemma 1 (Gemma) and 2 (Gemma 2's sandwich norms and alternating sliding layers), any SigLIP grid.
    name = "google--paligemma-3b-pt-224.json"
    changes = {"projection_dim": 64, "text_config": SMALL_TEXT | {"model_type": text_type}}
    config, architecture, tokens = small_vision_language(name, 14 * grid, changes)
    assert_equal_flops_and_tokens(config, architecture, tokens, (batch, tokens + 5))


TRAINED = [
    "meta-llama--Llama-3.2-1B.json", "gpt2.json", "bert-base-uncased.json", "Qwen--Qwen2.5-7B.json",
    "Qwen--Qwen3-8B.json", "mistralai--Mistral-7B-v0.1.json", "google--gemma-2-9b.json",
    "microsoft--Phi-3-mini-4k-instruct.json", "mistralai--Mixtral-8x7B-v0.1.json", "Salesforce--codegen-350M-mono.json",
    "openai--gpt-oss-20b.json", "state-spaces--mamba-130m-hf.json", "mistralai--Mamba-Codestral-7B-v0.1.json",
    "microsoft--Phi-3.5-MoE-instruct.json", "ai21labs--AI21-Jamba-1.5-Mini.json", "tiiuae--Falcon-H1-0.5B-Base.json",
    "Qwen--Qwen3-Next-80B-A3B-Instruct.json", "google--siglip2-base-patch16-224.json",
    "EleutherAI--gpt-j-6b.json", "bigcode--starcoder.json",
]  # fmt: skip


@pytest.mark.parametrize("checkpointing", [False, True])
@pytest.mark.parametrize("name", TRAINED)
def test_training_flops_equal_flop_counter_mode(name: str, checkpointing: bool) -> None:
    # The token embedding's output needs a gradient (its table is trainable), so every product after it
    # computes both operands' gradients; the lookups themselves are not products. With gradient checkpointing, each
    # layer's forward again up to its last saved tensor (torch's default early stop): Llama, Qwen, Mistral, Phi-3
    # (resid_pdrop 0), CodeGen (resid_pdrop 0), Mamba, Jamba, Falcon-H1 and SigLIP 2 skip their last product; GPT-2
    # (dropout 0.1 after c_proj), BERT and Gemma 2 (a norm after it) and the mixtures (the routing weights'
    # multiply after the experts) recompute their layers whole.
    # Mamba's depthwise conv1d: FlopCounterMode counts its weight gradient as if it were not grouped.
    config = cut(shipped(name)) | SMALLER.get(name, {})
    assert_equal_training_flops(config, counted_class(config), (2, 16), checkpointing=checkpointing)


@pytest.mark.parametrize(("name", "last"), [("meta-llama--Llama-3.2-1B.json", "mlp.down_proj"), ("gpt2.json", "")])
def test_checkpoint_early_stop_skips_a_last_product(name: str, last: str) -> None:
    # torch's default non-reentrant checkpoint (transformers') stops a layer's recompute once the layer has saved its
    # last tensor again, and a product saves its inputs before it runs: when nothing after a layer's last product
    # saves a tensor, that product is not recomputed, as ours. Llama: down_proj, then only the residual add; GPT-2:
    # c_proj, then dropout, which saves its mask, so the whole layer runs again. With the early stop off, torch
    # recomputes each layer whole: ours plus that product per layer.
    config = cut(shipped(name))
    architecture = counted_class(config)
    report = propagate(build_config_tree(config, architecture=architecture), (2, 16))
    assert report.training is not None
    stopped = transformers_flops(config, architecture, (2, 16), backward=True, checkpointing=True)
    whole = transformers_flops(config, architecture, (2, 16), backward=True, checkpointing=True, early_stop=False)
    skipped = sum(row.times * (row.macs or 0) for row in report.modules if last and row.path.endswith(last))
    assert stopped == report.training.total_checkpointed
    assert whole == report.training.total_checkpointed + 2 * skipped


@settings(max_examples=10)
@given(
    name=st.sampled_from(["meta-llama--Llama-3.2-1B.json", "gpt2.json", "bert-base-uncased.json"]),
    layers=st.integers(1, 3),
    batch=st.integers(1, 3),
    length=st.integers(1, 40),
    heads=st.sampled_from([(4, 4), (4, 2), (4, 1), (8, 2)]),
)
def test_random_small_configurations_equal_flop_counter_mode(
    name: str, layers: int, batch: int, length: int, heads: tuple[int, int]
) -> None:
    config = cut(shipped(name), layers=layers)
    query_heads, kv_heads = heads
    width = 16 * query_heads
    for key in ("hidden_size", "n_embd"):
        if key in config:
            config[key] = width
    for key in ("num_attention_heads", "n_head"):
        if key in config:
            config[key] = query_heads
    if "num_key_value_heads" in config:
        config["num_key_value_heads"] = kv_heads
        config["head_dim"] = 16
    for key in ("intermediate_size", "n_inner"):
        if key in config:
            config[key] = 3 * width
    architecture = counted_class(config)
    shape = (batch, length)
    assert ours(config, architecture, shape).total_flops == transformers_flops(
        config, architecture, shape, backward=False
    )


@settings(max_examples=8, deadline=None)
@given(
    name=st.sampled_from(["gpt2.json", "Salesforce--codegen-350M-mono.json"]),
    layers=st.integers(1, 3),
    length=st.integers(1, 20),
    rate=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_checkpointed_recompute_follows_the_dropout_rate(name: str, layers: int, length: int, rate: float) -> None:
    # The MLP ends with its last product (GPT-2's c_proj, CodeGen's fc_out), then dropout(resid_pdrop), then the
    # residual add. In training, a dropout above 0 saves its mask, so torch's default early stop recomputes the
    # whole layer; at 0 it returns its input and saves nothing, so the last product is not recomputed.
    config = cut(shipped(name), layers=layers) | {"resid_pdrop": rate}
    architecture = counted_class(config)
    assert_equal_training_flops(config, architecture, (2, length), checkpointing=True)
    report = ours(config, architecture, (2, length))
    last = "mlp.c_proj" if name == "gpt2.json" else "mlp.fc_out"
    skipped = 0 if rate else sum(row.times * (row.macs or 0) for row in report.modules if row.path.endswith(last))
    stack = next(row.macs or 0 for row in report.modules if row.path == "transformer.h")
    assert report.checkpointed_macs == stack - skipped


MODERN_ENCODERS = [
    "microsoft--deberta-v3-base.json",
    "sentence-transformers--all-mpnet-base-v2.json",
    "answerdotai--ModernBERT-base.json",
]
AUDIO = ["facebook--wav2vec2-base-960h.json", "facebook--hubert-base-ls960.json"]
ONE_SECOND = (1, 16000)  # the shipped speech models read 16 kHz audio
TRAINING_AUDIO = {"layerdrop": 0.0, "mask_time_prob": 0.0}  # no random layer skipping, no SpecAugment
SMALL_SPEECH = {
    "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 48, "conv_dim": [16, 16, 24],
    "conv_kernel": [10, 3, 2], "conv_stride": [5, 2, 2], "num_feat_extract_layers": 3, "num_labels": 3,
}  # fmt: skip


@pytest.mark.parametrize("name", MODERN_ENCODERS)
@pytest.mark.parametrize("head", ["Model", "ForMaskedLM"])
def test_modern_encoder_flops_equal_flop_counter_mode(name: str, head: str) -> None:
    # DeBERTa-v3: per layer, query_proj and key_proj also project the 512 relative embeddings (share_att_key), and
    # c2p and p2c multiply batch·L·512·hidden each; ModernBERT's local layers count their full L×L products.
    config = cut(shipped(name))
    architecture = counted_class(config).removesuffix("ForMaskedLM").removesuffix("Model") + head
    report = ours(config, architecture, (2, 16))
    assert report.is_complete
    assert report.tokens == 32
    assert report.total_flops == transformers_flops(config, architecture, (2, 16), backward=False)


@settings(max_examples=12, deadline=None)
@given(
    layers=st.integers(1, 3),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 40)),
    heads=st.sampled_from([2, 4]),
    relative=st.booleans(),
    shared=st.booleans(),
    types=st.sampled_from(["", "c2p", "p2c", "p2c|c2p"]),
    buckets=st.sampled_from([-1, 8, 32]),
    switches=st.tuples(st.booleans(), st.sampled_from([0, 2]), st.sampled_from(["none", "layer_norm"])),
    widths=st.tuples(st.sampled_from([0, 24]), st.sampled_from([0, 3]), st.sampled_from([1, 2])),
    masked_lm=st.booleans(),
)
def test_random_small_debertas_equal_flop_counter_mode(
    layers: int,
    shape: tuple[int, int],
    heads: int,
    relative: bool,
    shared: bool,
    types: str,
    buckets: int,
    switches: tuple[bool, int, str],
    widths: tuple[int, int, int],
    masked_lm: bool,
) -> None:
    # Relative attention on or off, shared or own position projections, either score term or both, buckets or
    # max_relative_positions (16 relative positions), an absolute position table or none, token types, the
    # relative embeddings' LayerNorm, an embedding narrower than the hidden size (embed_proj), the ConvLayer.
    biased, token_types, norm = switches
    embedding, kernel, groups = widths
    config = cut(shipped("microsoft--deberta-v3-base.json"), layers=layers) | {
        "hidden_size": 16 * heads, "num_attention_heads": heads, "intermediate_size": 48 * heads,
        "relative_attention": relative, "share_att_key": shared, "pos_att_type": types, "position_buckets": buckets,
        "max_relative_positions": 8, "position_biased_input": biased, "type_vocab_size": token_types,
        "norm_rel_ebd": norm, "conv_kernel_size": kernel, "conv_groups": groups,
    }  # fmt: skip
    if embedding:
        config["embedding_size"] = embedding
    architecture = "DebertaV2ForMaskedLM" if masked_lm else "DebertaV2Model"
    assert ours(config, architecture, shape).total_flops == transformers_flops(
        config, architecture, shape, backward=False
    )


@settings(max_examples=10, deadline=None)
@given(
    name=st.sampled_from(MODERN_ENCODERS[1:]),
    layers=st.integers(1, 4),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 40)),
    heads=st.sampled_from([2, 4]),
    every=st.integers(1, 3),
    biases=st.booleans(),
    buckets=st.sampled_from([20, 26, 32]),
    masked_lm=st.booleans(),
)
def test_random_small_mpnets_and_modernberts_equal_flop_counter_mode(
    name: str, layers: int, shape: tuple[int, int], heads: int, every: int, biases: bool, buckets: int, masked_lm: bool
) -> None:
    # ModernBERT: every `every`-th layer global, the rest sliding-window (local_attention 8, shorter than most
    # sequences here), with and without biases. MPNet: its relative position bias; transformers buckets for 32
    # whatever relative_attention_num_buckets says, so a smaller table fails (IndexError) once the sequence
    # reaches a bucket past it, and we refuse the same sequences.
    config = cut(shipped(name), layers=layers) | {
        "hidden_size": 16 * heads, "num_attention_heads": heads, "intermediate_size": 24 * heads,
        "global_attn_every_n_layers": every, "local_attention": 8, "attention_bias": biases, "mlp_bias": biases,
        "norm_bias": biases, "relative_attention_num_buckets": buckets,
    }  # fmt: skip
    architecture = counted_class(config).removesuffix("ForMaskedLM") + ("ForMaskedLM" if masked_lm else "Model")
    try:
        report = ours(config, architecture, shape)
    except ShapeError:
        with pytest.raises(IndexError, match="index out of range"):
            transformers_flops(config, architecture, shape, backward=False)
        return
    assert report.total_flops == transformers_flops(config, architecture, shape, backward=False)


@pytest.mark.parametrize("name", AUDIO)
@pytest.mark.parametrize("samples", [400, 16000])
def test_speech_encoder_flops_equal_flop_counter_mode(name: str, samples: int) -> None:
    # The raw waveform (batch, samples): seven convolutions (kernel 10 stride 5, then 3/2 and 2/2) give
    # ⌊(samples - 400)/320⌋ + 1 frames, 1 for the 400 samples of the receptive field, 49 for one second.
    config = cut(shipped(name))
    architecture = counted_class(config)
    report = ours(config, architecture, (2, samples))
    assert report.is_complete
    frames = (samples - 400) // 320 + 1
    assert report.output_shape == (2, frames, 512 if architecture.endswith("ForCTC") else 768)
    assert report.total_flops == transformers_flops(config, architecture, (2, samples), backward=False)


@settings(max_examples=12, deadline=None)
@given(
    name=st.sampled_from(AUDIO),
    head=st.sampled_from(["Model", "ForCTC", "ForSequenceClassification", "ForAudioFrameClassification"]),
    samples=st.tuples(st.integers(1, 2), st.integers(400, 3000)),
    norm=st.sampled_from(["group", "layer"]),
    stable=st.booleans(),
    positions=st.tuples(st.sampled_from([3, 4, 16]), st.sampled_from([1, 2])),
    switches=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    adapter=st.sampled_from([0, 16, 24]),
)
def test_random_small_speech_encoders_equal_flop_counter_mode(
    name: str,
    head: str,
    samples: tuple[int, int],
    norm: str,
    stable: bool,
    positions: tuple[int, int],
    switches: tuple[bool, bool, bool],
    adapter: int,
) -> None:
    # Group or layer norms in the feature encoder, post- or pre-norm (stable) layers, odd and even position
    # kernels (an even one drops a frame), conv biases; HuBERT's position BatchNorm and feature-projection
    # LayerNorm switches; wav2vec 2.0's attention adapters (stable layers) and, for the CTC head, the
    # convolutional adapter (to the same or another width).
    kernel, groups = positions
    bias, batch_norm, projection_norm = switches
    config = cut(shipped(name)) | {
        "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 48, "conv_dim": [16, 16, 24],
        "conv_kernel": [10, 3, 2], "conv_stride": [5, 2, 2], "num_feat_extract_layers": 3,
        "feat_extract_norm": norm, "do_stable_layer_norm": stable, "conv_bias": bias,
        "num_conv_pos_embeddings": kernel, "num_conv_pos_embedding_groups": groups,
        "conv_pos_batch_norm": batch_norm, "feat_proj_layer_norm": projection_norm, "classifier_proj_size": 8,
        "num_labels": 3,
    }  # fmt: skip
    kind = "Wav2Vec2" if config["model_type"] == "wav2vec2" else "Hubert"
    assume(kind == "Wav2Vec2" or head != "ForAudioFrameClassification")  # HuBERT has no frame classifier
    if kind == "Wav2Vec2" and adapter and stable:
        config["adapter_attn_dim"] = adapter
    if kind == "Wav2Vec2" and adapter and head == "ForCTC":
        config |= {"add_adapter": True, "output_hidden_size": adapter + 8, "num_adapter_layers": 2}
    architecture = kind + head
    assert ours(config, architecture, samples).total_flops == transformers_flops(
        config, architecture, samples, backward=False
    )


@pytest.mark.parametrize(
    ("name", "checkpointing"),
    [*((name, False) for name in MODERN_ENCODERS + AUDIO),
     *((name, True) for name in MODERN_ENCODERS + AUDIO if "mpnet" not in name)],
)  # fmt: skip
def test_new_encoder_training_flops_equal_flop_counter_mode(name: str, checkpointing: bool) -> None:
    # Forward and backward. The speech models without LayerDrop and SpecAugment (both random in training), their
    # waveform made to require a gradient by the feature encoder (so the first convolution computes its input's
    # gradient too), and FlopCounterMode's over-count of the grouped position convolution's weight gradient added.
    # With gradient checkpointing (MPNet has none: transformers refuses it), each layer again up to its last saved
    # tensor: ModernBERT's down projection (Wo) is not recomputed; DeBERTa's layers end with a norm, the speech
    # models' convolution layers with their activation (GELU saves its input) and their encoder layers with a norm.
    config = cut(shipped(name)) | (TRAINING_AUDIO if name in AUDIO else {})
    shape = (1, 8000) if name in AUDIO else (2, 16)
    assert_equal_training_flops(config, counted_class(config), shape, checkpointing=checkpointing)


SPEECH_HEADS = ["Wav2Vec2ForXVector", "Wav2Vec2ForPreTraining"]
PRETRAINING = {"layerdrop": 0.0, "num_negatives": 4}  # masked_spec_embed kept (mask_time_prob > 0) for the mask


@pytest.mark.parametrize("architecture", SPEECH_HEADS)
@pytest.mark.parametrize("samples", [8000, 16000])
def test_speech_head_flops_equal_flop_counter_mode(architecture: str, samples: int) -> None:
    # x-vectors: 24 or 49 frames through five TDNN layers (kernels 5, 3, 3, 1, 1 at dilations 1, 2, 3, 1, 1: 4, 4
    # and 6 frames fewer), mean and deviation side by side. Pre-training, input_values only: project_hid on the
    # hidden states, the quantizer's weight_proj and project_q on the normalised features; no loss.
    config = cut(shipped("facebook--wav2vec2-base-960h.json"))
    report = ours(config, architecture, (2, samples))
    assert report.is_complete
    frames = (samples - 400) // 320 + 1
    expected = (2, 512) if architecture.endswith("XVector") else (2, frames, 256)
    assert report.output_shape == expected
    assert report.total_flops == transformers_flops(config, architecture, (2, samples), backward=False)


@pytest.mark.parametrize(
    ("name", "architecture"),
    [*(("facebook--wav2vec2-base-960h.json", head) for head in SPEECH_HEADS),
     ("google--siglip2-base-patch16-224.json", "Siglip2ForImageClassification")],
)  # fmt: skip
def test_head_training_flops_equal_flop_counter_mode(name: str, architecture: str) -> None:
    # Forward and backward of output[0]: the x-vector logits; the pre-training contrastive loss, its mask and
    # distractors fixed (contrastive_targets), so both projections and the quantizer get gradients; SigLIP 2's logits,
    # which never read the tower's pooling head (it runs, no gradient reaches it).
    config = cut(shipped(name))
    if name.startswith("facebook--wav2vec2"):
        config |= PRETRAINING if architecture.endswith("ForPreTraining") else TRAINING_AUDIO
        shape: tuple[int, ...] = (1, 8000)
    else:
        shape = class_input(name, architecture)
    tree = build_config_tree(config, architecture=architecture)
    report = propagate(tree, shape)
    theirs = transformers_flops(config, architecture, shape, backward=True)
    assert 2 * (report.total_macs + report.total_backward_macs) + grouped_weight_gradient_extra(tree, report) == theirs


@settings(max_examples=10, deadline=None)
@given(
    layers=st.lists(st.tuples(st.sampled_from([8, 12]), st.integers(1, 4), st.integers(1, 3)), min_size=1, max_size=4),
    samples=st.tuples(st.integers(1, 2), st.integers(400, 3000)),
    output=st.sampled_from([6, 16]),
    weighted=st.booleans(),
    stable=st.booleans(),
)
def test_random_small_xvectors_equal_flop_counter_mode(
    layers: list[tuple[int, int, int]], samples: tuple[int, int], output: int, weighted: bool, stable: bool
) -> None:
    # TDNN layers of any width, kernel and dilation: dilation·(kernel-1) frames fewer each; too few frames for one
    # is refused, as F.conv1d refuses them.
    widths, kernels, dilations = (list(column) for column in zip(*layers, strict=True))
    config = cut(shipped("facebook--wav2vec2-base-960h.json")) | SMALL_SPEECH | {
        "tdnn_dim": widths, "tdnn_kernel": kernels, "tdnn_dilation": dilations, "xvector_output_dim": output,
        "use_weighted_layer_sum": weighted, "do_stable_layer_norm": stable,
    }  # fmt: skip
    try:
        report = ours(config, "Wav2Vec2ForXVector", samples)
    except ShapeError:
        with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
            transformers_flops(config, "Wav2Vec2ForXVector", samples, backward=False)
        return
    assert report.total_flops == transformers_flops(config, "Wav2Vec2ForXVector", samples, backward=False)


@settings(max_examples=8, deadline=None)
@given(
    groups=st.sampled_from([1, 2, 4]),
    entries=st.integers(1, 12),
    width=st.sampled_from([4, 8]),
    projected=st.sampled_from([8, 24]),
    samples=st.tuples(st.integers(1, 2), st.integers(400, 3000)),
    stable=st.booleans(),
    backward=st.booleans(),
)
def test_random_small_pretraining_quantizers_equal_flop_counter_mode(
    groups: int, entries: int, width: int, projected: int, samples: tuple[int, int], stable: bool, backward: bool
) -> None:
    # Any number of codevector groups and entries per group, group widths and projections; forward on input_values
    # only, or a training step of the contrastive loss (fixed mask and distractors).
    config = cut(shipped("facebook--wav2vec2-base-960h.json")) | SMALL_SPEECH | PRETRAINING | {
        "num_codevector_groups": groups, "num_codevectors_per_group": entries, "codevector_dim": groups * width,
        "proj_codevector_dim": projected, "do_stable_layer_norm": stable,
    }  # fmt: skip
    tree = build_config_tree(config, architecture="Wav2Vec2ForPreTraining")
    report = propagate(tree, samples)
    theirs = transformers_flops(config, "Wav2Vec2ForPreTraining", samples, backward=backward)
    extra = grouped_weight_gradient_extra(tree, report) if backward else 0
    assert 2 * (report.total_macs + report.total_backward_macs * backward) + extra == theirs


def test_speech_encoders_refuse_what_torch_refuses() -> None:
    tree = build_config_tree(shipped("facebook--wav2vec2-base-960h.json"))
    with pytest.raises(ShapeError, match=r"expects raw audio of shape \(batch, samples\), got \[1, 1, 16000\]"):
        propagate(tree, (1, 1, 16000))
    # torch: "Kernel size can't be greater than actual input size" (399 samples → 79 frames, 78 → 38, …, 1 → 0)
    with pytest.raises(ShapeError, match=r"^wav2vec2\.feature_extractor\.conv_layers\.6\.conv: "):
        propagate(tree, (1, 399))


def test_deberta_relative_scores_are_itemised() -> None:
    # Per layer: c2p and p2c each multiply batch · L · 2·256 relative positions · 768; query_proj and key_proj
    # each project the (1, 512, 768) relative embeddings once (share_att_key) beside the tokens.
    report = propagate(build_config_tree(shipped("microsoft--deberta-v3-base.json")), (2, 16))
    attention = next(row for row in report.modules if row.path.endswith("layer.0-11.attention.self"))
    assert [step.value for step in attention.steps if "c2p" in step.name or "p2c" in step.name] == [
        2 * 16 * 512 * 768,
        2 * 16 * 512 * 768,
    ]
    projections = [row for row in report.modules if row.path.endswith("attention.self.query_proj")]
    assert [(row.input_shape, row.macs) for row in projections] == [
        ((2, 16, 768), 2 * 16 * 768 * 768),
        ((1, 512, 768), 512 * 768 * 768),
    ]


SHIPPED = sorted(path.name for path in CONFIGS.glob("*.json"))
COVERED = [*DECODERS, *MIXTURES, *ENCODER_DECODERS, *SPEECH, *ENCODERS, *VISION_LANGUAGE, "facebook--dinov2-base.json"]
COVERED += ["google-t5--t5-small.json", "t5-small.json"]
COVERED += ["google--vit-base-patch16-224-in21k.json", "google-bert--bert-base-uncased.json"]
COVERED += ["google-bert--bert-large-uncased.json", "facebook--opt-125m.json", "facebook--opt-1.3b.json"]
COVERED += ["bigscience--bloom.json", "EleutherAI--gpt-neox-20b.json", "meta-llama--Llama-3.1-8B.json"]
COVERED += ["meta-llama--Llama-3.1-405B.json", "openai-community--gpt2.json", "openai-community--gpt2-medium.json"]
COVERED += ["openai-community--gpt2-large.json", "openai-community--gpt2-xl.json", *MODERN_ENCODERS, *AUDIO]
DEFAULT_INPUTS = {
    "google--vit-base-patch16-224-in21k.json": (1, 3, 224, 224),
    "facebook--dinov2-base.json": (1, 3, 518, 518),
    "google--siglip-base-patch16-224.json": (1, 64),  # its text position table holds 64 tokens
    "google--siglip2-base-patch16-224.json": (1, 64),
    "openai--clip-vit-base-patch32.json": (1, 77),
    "llava-hf--llava-1.5-7b-hf.json": (1, 1024),  # 576 image tokens and 448 text tokens
    "google--gemma-3-4b-it.json": (1, 512),  # 256 image tokens and 256 text tokens
    **dict.fromkeys(AUDIO, ONE_SECOND),
    "Qwen--Qwen2-VL-7B-Instruct.json": (1, 512),  # 256 image tokens and 256 text tokens
    "Qwen--Qwen2.5-VL-7B-Instruct.json": (1, 512),
    "Qwen--Qwen3-VL-4B-Instruct.json": (1, 256),  # 196 image tokens and 60 text tokens
    "meta-llama--Llama-4-Scout-17B-16E-Instruct.json": (1, 256),  # 144 image tokens and 112 text tokens
    "llava-hf--llava-v1.6-mistral-7b-hf.json": (1, 2048),  # 1,176 image tokens
    "llava-hf--llava-onevision-qwen2-0.5b-ov-hf.json": (1, 2048),  # 1,485 image tokens
    "google--paligemma-3b-pt-224.json": (1, 512),  # 256 image tokens
    "HuggingFaceM4--Idefics3-8B-Llama3.json": (1, 512),  # 169 image tokens
    "mistralai--Mistral-Small-3.1-24B-Instruct-2503.json": (1, 4096),  # 3,025 image tokens
}


def test_every_shipped_config_is_covered() -> None:
    assert sorted(set(SHIPPED) - set(COVERED)) == []


@pytest.mark.parametrize("name", SHIPPED)
def test_every_module_of_a_shipped_config_is_modelled(name: str) -> None:
    tree = build_config_tree(shipped(name))
    report = propagate(tree, DEFAULT_INPUTS.get(name, (1, 128)))
    assert report.is_complete
    assert {row.status for row in report.modules} <= {MODELLED, NOT_CALLED}
    walked = {path for row in report.modules for path in expanded_paths(row.path)}
    assert walked == {path for path, _ in iter_modules(tree)}


def class_input(name: str, architecture: str) -> tuple[int, ...]:
    """The config's default input; a multiple-choice model's two choices; a CLIP or SigLIP vision tower's image (SigLIP
    2's as NaFlex patches, its num_patches: 14² patches of 16² pixels)."""
    if architecture.endswith("ForMultipleChoice"):
        return (1, 2, 128)
    if architecture.startswith(("CLIPVision", "SiglipForImageClassification")):
        return (1, 3, 224, 224)
    if architecture == "Siglip2ForImageClassification":
        return (1, 196, 3 * 16 * 16)
    return DEFAULT_INPUTS.get(name, (1, 128))


def test_every_class_the_builders_build_is_modelled() -> None:
    # Every (shipped config, class) pair that `--architecture` can build, not only the config's default class.
    incomplete: set[tuple[str, str]] = set()
    for name in SHIPPED:
        config = shipped(name)
        for architecture in spec_for(config["model_type"]).architectures:
            tree = build_config_tree(config, architecture=architecture)
            try:
                report = propagate(tree, class_input(name, architecture))
            except ShapeError:
                incomplete.add((name, architecture))
                continue
            if not report.is_complete:
                incomplete.add((name, architecture))
    assert not incomplete, f"not modelled: {sorted(incomplete)}"


def test_language_model_reports_tokens_and_causal_masked_share() -> None:
    tree = build_config_tree(shipped("meta-llama--Llama-3.2-1B.json"))
    report = propagate(tree, (2, 1024))
    assert report.tokens == 2048
    # Per layer and per sequence, QKᵀ and attention·V each multiply L·L·heads·head_dim (heads·head_dim = 2048);
    # L·(L-1)/2 of the L² positions are masked: 16 layers · 2 sequences · (1024·1023/2) · (2048 + 2048).
    assert report.masked_macs == 16 * 2 * (1024 * 1023 // 2) * (2048 + 2048)


def test_a_sequence_longer_than_the_position_table_is_refused() -> None:
    with pytest.raises(ShapeError, match=r"^transformer: GPT2Model reads positions 0 to 1024 from wpe, which has 1024"):
        propagate(build_config_tree(shipped("gpt2.json")), (1, 1025))
    with pytest.raises(ShapeError, match=r"expects token ids of shape \(batch, sequence\), got \[1, 3, 224\]"):
        propagate(build_config_tree(shipped("gpt2.json")), (1, 3, 224))
