"""The activation oracle: what autograd saves during one training forward of the real transformers model.

The model is built on the meta device from a shipped config cut to a few layers and tiny sizes, moved to the
CPU with ``to_empty`` and initialised by transformers' own ``init_weights`` (which also fills the buffers),
cast to bfloat16 and put in training mode. ``saved_bytes`` runs one forward pass with the labels (so the loss
is part of it) under ``torch.autograd.graph.saved_tensors_hooks`` and adds up each storage that is packed and
still held after the forward, once, leaving out the parameters' and buffers' storages (weights are counted as
weights, not activations).
"""

from __future__ import annotations

import weakref
from typing import Any, Final

import torch
import transformers

from hf_oracle import shipped

SEQ2SEQ: dict[str, Any] = {
    "d_model": 64,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 96,
    "decoder_ffn_dim": 96,
    "max_position_embeddings": 64,
    "decoder_start_token_id": 2,
}
"""An encoder-decoder's sizes cut down (BART's names, which mBART, Pegasus and Marian share)."""
GPT: dict[str, Any] = {"n_embd": 64, "n_head": 4, "n_positions": 64}
"""GPT-2's names for the sizes, which GPT-J, CodeGen and others share."""
SPEECH: dict[str, Any] = {
    "conv_dim": [32, 32, 32],
    "conv_kernel": [3, 2, 2],
    "conv_stride": [2, 1, 1],
    "num_feat_extract_layers": 3,
    "num_conv_pos_embeddings": 4,
    "num_conv_pos_embedding_groups": 4,
    "mask_time_length": 2,
    "layerdrop": 0.0,
}
"""A speech encoder's feature encoder and positional convolution cut down (wav2vec 2.0's names, HuBERT's too)."""
T5_SIZES: dict[str, Any] = {"d_model": 64, "d_ff": 96, "num_heads": 4, "d_kv": 16, "decoder_start_token_id": 0}
FAMILIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    # family: (shipped config, class, the sizes cut down); kv heads below heads where the family has GQA.
    "llama": ("meta-llama--Llama-3.2-1B.json", "LlamaForCausalLM", {"num_key_value_heads": 2, "head_dim": 16}),
    "mistral": ("mistralai--Mistral-7B-v0.1.json", "MistralForCausalLM", {"num_key_value_heads": 2, "head_dim": 16}),
    "qwen2": ("Qwen--Qwen2.5-7B.json", "Qwen2ForCausalLM", {"num_key_value_heads": 2}),
    "qwen3": ("Qwen--Qwen3-8B.json", "Qwen3ForCausalLM", {"num_key_value_heads": 2, "head_dim": 16}),
    "gemma": ("google--gemma-7b.json", "GemmaForCausalLM", {"num_key_value_heads": 2, "head_dim": 16}),
    "phi3": ("microsoft--Phi-3-mini-4k-instruct.json", "Phi3ForCausalLM", {"num_key_value_heads": 4}),
    # sandwich norms (pre/post attention and feed-forward), attention and final logit softcapping (Gemma 2);
    # q/k norms and a rotary table per layer type (Gemma 3), a full-attention layer among sliding ones
    "gemma2": ("google--gemma-2-9b.json", "Gemma2ForCausalLM", {"num_key_value_heads": 2, "head_dim": 16}),
    "gemma3": (
        "google--gemma-3-1b-it.json",
        "Gemma3ForCausalLM",
        {"num_key_value_heads": 2, "head_dim": 16, "sliding_window_pattern": 2},
    ),
    "gpt2": ("gpt2.json", "GPT2LMHeadModel", GPT),
    "bert": ("bert-base-uncased.json", "BertForMaskedLM", {"max_position_embeddings": 64}),
    # encoders written like BERT: RoBERTa's and XLM-R's positions count from the padding id + 1
    "roberta": ("FacebookAI--roberta-base.json", "RobertaForMaskedLM", {"max_position_embeddings": 64}),
    "roberta_causal": (
        "FacebookAI--roberta-base.json",
        "RobertaForCausalLM",
        {"max_position_embeddings": 64, "is_decoder": True},
    ),
    "xlm_roberta": ("FacebookAI--xlm-roberta-base.json", "XLMRobertaForMaskedLM", {"max_position_embeddings": 64}),
    # ELECTRA's discriminator: embeddings narrower than the layers, projected up; a per-token binary head
    "electra": (
        "google--electra-base-discriminator.json",
        "ElectraForPreTraining",
        {"max_position_embeddings": 64, "embedding_size": 32},
    ),
    "distilbert": (
        "distilbert--distilbert-base-uncased.json",
        "DistilBertForMaskedLM",
        {"max_position_embeddings": 64, "dim": 64, "n_heads": 4, "hidden_dim": 96},  # its own names
    ),
    # ALBERT: one layer's weights run num_hidden_layers times, on embeddings of embedding_size projected up
    "albert": (
        "albert--albert-base-v2.json",
        "AlbertForMaskedLM",
        {"max_position_embeddings": 64, "embedding_size": 32},
    ),
    # MPNet: BERT's layer with a relative position bias shared by every layer, its attention written out (eager)
    "mpnet": ("sentence-transformers--all-mpnet-base-v2.json", "MPNetForMaskedLM", {"max_position_embeddings": 64}),
    # ModernBERT: pre-norm, no biases, fused Wqkv, rotary with a base per layer type, a global layer (the first,
    # without its attention norm) every third, the others sliding; GeGLU MLP
    "modernbert": ("answerdotai--ModernBERT-base.json", "ModernBertForMaskedLM", {"max_position_embeddings": 64}),
    # vision transformers: a 32 × 32 image in 8 × 8 patches, 16 patches and the class token (s = 17)
    "vit": (
        "google--vit-base-patch16-224-in21k.json",
        "ViTForImageClassification",
        {"image_size": 32, "patch_size": 8},
    ),
    "dinov2": ("facebook--dinov2-base.json", "Dinov2ForImageClassification", {"image_size": 32, "patch_size": 8}),
    # CLIP's vision tower alone (its vision_config): pre- and post-LayerNorms, quick_gelu, no head or loss
    "clip_vision": ("openai--clip-vit-base-patch32.json", "CLIPVisionModel", {"image_size": 32, "patch_size": 8}),
    "clip_vision_projection": (
        "openai--clip-vit-base-patch32.json",
        "CLIPVisionModelWithProjection",
        {"image_size": 32, "patch_size": 8, "projection_dim": 48},
    ),
    # SigLIP's vision tower alone (its vision_config): no class token (s = 16), gelu_pytorch_tanh, post_layernorm
    # over every patch, then its attention-pooling head (a probe, nn.MultiheadAttention, LayerNorm, MLP); no loss
    "siglip_vision": ("google--siglip-base-patch16-224.json", "SiglipVisionModel", {"image_size": 32, "patch_size": 8}),
    "siglip_vision_headless": (
        "google--siglip-base-patch16-224.json",
        "SiglipVisionModel",
        {"image_size": 32, "patch_size": 8, "vision_use_head": False},
    ),
    # sparse MoE: 4 experts, 2 per token; Qwen2-MoE with its shared expert, Qwen3-MoE renormalising the top-2
    "mixtral": (
        "mistralai--Mixtral-8x7B-v0.1.json",
        "MixtralForCausalLM",
        {"num_key_value_heads": 2, "head_dim": 16, "num_local_experts": 4, "num_experts_per_tok": 2},
    ),
    "qwen2_moe": (
        "Qwen--Qwen1.5-MoE-A2.7B.json",
        "Qwen2MoeForCausalLM",
        {
            "num_key_value_heads": 2,
            "num_experts": 4,
            "num_experts_per_tok": 2,
            "moe_intermediate_size": 32,
            "shared_expert_intermediate_size": 48,
        },
    ),
    # encoder-decoder: the encoder and the decoder cut to the same number of layers
    "bart": ("facebook--bart-base.json", "BartForConditionalGeneration", SEQ2SEQ),
    "mbart": ("facebook--mbart-large-50.json", "MBartForConditionalGeneration", SEQ2SEQ),
    "pegasus": ("google--pegasus-xsum.json", "PegasusForConditionalGeneration", SEQ2SEQ),
    "marian": ("Helsinki-NLP--opus-mt-en-de.json", "MarianMTModel", {**SEQ2SEQ, "decoder_vocab_size": 256}),
    # the decoder alone (ForCausalLM): no cross-attention, no encoder; the cache is sized by encoder_layers
    "marian_causal": ("Helsinki-NLP--opus-mt-en-de.json", "MarianForCausalLM", {**SEQ2SEQ, "decoder_vocab_size": 256}),
    "mbart_causal": ("facebook--mbart-large-50.json", "MBartForCausalLM", SEQ2SEQ),
    "pegasus_causal": ("google--pegasus-xsum.json", "PegasusForCausalLM", SEQ2SEQ),
    # task heads: BERT's pooler (the base model's too) and classifier, token classifier, question answering;
    # BART-like classification at the eos token and question answering
    "bert_base": ("bert-base-uncased.json", "BertModel", {"max_position_embeddings": 64}),
    "bert_causal": ("bert-base-uncased.json", "BertLMHeadModel", {"max_position_embeddings": 64, "is_decoder": True}),
    "bert_classification": ("bert-base-uncased.json", "BertForSequenceClassification", {"max_position_embeddings": 64}),
    "bert_tokens": ("bert-base-uncased.json", "BertForTokenClassification", {"max_position_embeddings": 64}),
    "bert_qa": ("bert-base-uncased.json", "BertForQuestionAnswering", {"max_position_embeddings": 64}),
    "bart_classification": ("facebook--bart-base.json", "BartForSequenceClassification", SEQ2SEQ),
    "mbart_classification": ("facebook--mbart-large-50.json", "MBartForSequenceClassification", SEQ2SEQ),
    "mbart_qa": ("facebook--mbart-large-50.json", "MBartForQuestionAnswering", SEQ2SEQ),
    # Whisper's encoder reads log-mel features of its fixed window: 16 bins × 2·24 frames, 24 source positions
    "whisper": (
        "openai--whisper-tiny.json",
        "WhisperForConditionalGeneration",
        {**SEQ2SEQ, "num_mel_bins": 16, "max_source_positions": 24, "max_target_positions": 64},
    ),
    # speech encoders reading the raw waveform: 3 convolutions (stride 2, 1, 1) turn s samples into (s - 1)//2 - 1
    # frames; the positional convolution cut to 4 taps in 4 groups, SpecAugment's spans to 2 frames; LayerDrop off
    # (it skips layers at random). wav2vec 2.0's CTC head over group norm and post-norm layers, its large models'
    # layer norms and pre-norm ("stable") layers; HuBERT's base model
    "wav2vec2": ("facebook--wav2vec2-base-960h.json", "Wav2Vec2ForCTC", SPEECH),
    "wav2vec2_stable": (
        "facebook--wav2vec2-base-960h.json",
        "Wav2Vec2ForCTC",
        {**SPEECH, "feat_extract_norm": "layer", "do_stable_layer_norm": True},
    ),
    "hubert": ("facebook--hubert-base-ls960.json", "HubertModel", SPEECH),
    # GPT-style decoders: OPT pre-norm, and post-norm with project_in/out (350m's word_embed_proj_dim below h)
    "opt": (
        "facebook--opt-125m.json",
        "OPTForCausalLM",
        {"ffn_dim": 96, "word_embed_proj_dim": 64, "max_position_embeddings": 64},
    ),
    "opt_post_norm": (
        "facebook--opt-350m.json",
        "OPTForCausalLM",
        {"ffn_dim": 96, "word_embed_proj_dim": 32, "max_position_embeddings": 64},
    ),
    # attention and MLP in parallel on the same normalised input: GPT-NeoX (two LayerNorms, fused qkv), GPT-J,
    # CodeGen, Phi-2 (one LayerNorm); a quarter of each head rotary
    "gpt_neox": ("EleutherAI--pythia-160m.json", "GPTNeoXForCausalLM", {"max_position_embeddings": 64}),
    "gptj": ("EleutherAI--gpt-j-6b.json", "GPTJForCausalLM", {**GPT, "n_inner": 96, "rotary_dim": 4}),
    "codegen": (
        "Salesforce--codegen-350M-mono.json",
        "CodeGenForCausalLM",
        {**GPT, "n_inner": 96, "rotary_dim": 4, "n_ctx": 64},
    ),
    "phi": ("microsoft--phi-2.json", "PhiForCausalLM", {"num_key_value_heads": 4, "max_position_embeddings": 64}),
    # Falcon: one LayerNorm, fused qkv with one key/value head (7B's multi_query); 40B's new decoder architecture
    # with a LayerNorm before each branch and num_kv_heads groups of queries, key and value
    "falcon": ("tiiuae--falcon-7b.json", "FalconForCausalLM", {"ffn_hidden_size": 96}),
    "falcon_new": ("tiiuae--falcon-40b.json", "FalconForCausalLM", {"ffn_hidden_size": 96, "num_kv_heads": 2}),
    # GPT-2's layout: GPT-Neo (separate q/k/v, local attention every other layer), GPT-BigCode (multi-query)
    "gpt_neo": (
        "EleutherAI--gpt-neo-1.3B.json",
        "GPTNeoForCausalLM",
        {"max_position_embeddings": 64, "num_heads": 4, "intermediate_size": 96, "window_size": 8},
    ),
    "gpt_bigcode": ("bigcode--starcoder.json", "GPTBigCodeForCausalLM", {**GPT, "n_inner": 96}),
    # BLOOM: ALiBi, fused qkv, eager attention only
    "bloom": ("bigscience--bloom-560m.json", "BloomForCausalLM", {"n_head": 4}),
    "openai_gpt": ("openai-community--openai-gpt.json", "OpenAIGPTLMHeadModel", GPT),
    "mpt": ("mosaicml--mpt-7b.json", "MptForCausalLM", {"d_model": 64, "n_heads": 4, "max_seq_len": 64}),
    # T5: the ReLU MLP; Flan-T5 and mT5 gated gelu_new; UMT5 a relative position bias in every block
    "t5": ("google-t5--t5-small.json", "T5ForConditionalGeneration", T5_SIZES),
    "flan_t5": ("google--flan-t5-base.json", "T5ForConditionalGeneration", T5_SIZES),
    "mt5": ("google--mt5-small.json", "MT5ForConditionalGeneration", T5_SIZES),
    "umt5": ("google--umt5-small.json", "UMT5ForConditionalGeneration", T5_SIZES),
    "qwen3_moe": (
        "Qwen--Qwen3-30B-A3B.json",
        "Qwen3MoeForCausalLM",
        {
            "num_key_value_heads": 2,
            "head_dim": 16,
            "num_experts": 4,
            "num_experts_per_tok": 2,
            "moe_intermediate_size": 32,
        },
    ),
    "granite": (
        "ibm-granite--granite-3.1-8b-instruct.json",
        "GraniteForCausalLM",
        {"num_key_value_heads": 2},
    ),
    # SmolLM3: the second and third layers without rotary (NoPE), the first with it
    "smollm3": (
        "HuggingFaceTB--SmolLM3-3B.json",
        "SmolLM3ForCausalLM",
        {"num_key_value_heads": 2, "no_rope_layers": [1, 0, 0]},
    ),
    # StarCoder2 with residual and embedding dropout (its config has none) to show where their masks are
    "starcoder2": (
        "bigcode--starcoder2-15b.json",
        "Starcoder2ForCausalLM",
        {"num_key_value_heads": 2, "residual_dropout": 0.1, "embedding_dropout": 0.1},
    ),
    # StableLM rotates a quarter of each head (partial_rotary_factor 0.25); its dropout (none in its config) follows
    # only the MLP
    "stablelm": (
        "stabilityai--stablelm-2-1_6b.json",
        "StableLmForCausalLM",
        {"num_key_value_heads": 2, "hidden_dropout": 0.1},
    ),
    # OLMo with clip_qkv (none in its config): q, k and v clamped in place
    "olmo": ("allenai--OLMo-7B-hf.json", "OlmoForCausalLM", {"num_key_value_heads": 2, "clip_qkv": 8.0}),
    "olmo2": ("allenai--OLMo-2-1124-7B.json", "Olmo2ForCausalLM", {"num_key_value_heads": 2}),
    # Command R with the per-head LayerNorms on the query and key of Command R+ (use_qk_norm)
    "cohere": (
        "CohereForAI--c4ai-command-r-v01.json",
        "CohereForCausalLM",
        {"num_key_value_heads": 2, "use_qk_norm": True},
    ),
    # Command R7B: the first layer sliding (with rotary), the next two full (without)
    "cohere2": (
        "CohereForAI--c4ai-command-r7b-12-2024.json",
        "Cohere2ForCausalLM",
        {
            "num_key_value_heads": 2,
            "head_dim": 16,
            "layer_types": ["sliding_attention", "full_attention", "full_attention"],
        },
    ),
    # GLM-4: norms before and after each sub-layer, half of each head rotated, gate and up fused
    "glm4": ("THUDM--GLM-4-9B-0414.json", "Glm4ForCausalLM", {"num_key_value_heads": 2, "head_dim": 16}),
    "granitemoe": (
        "ibm-granite--granite-3.1-3b-a800m-instruct.json",
        "GraniteMoeForCausalLM",
        {"num_key_value_heads": 2, "num_local_experts": 4, "num_experts_per_tok": 2},
    ),
    # gpt-oss runs eager attention only (transformers has no sdpa for its sinks)
    "gpt_oss": (
        "openai--gpt-oss-20b.json",
        "GptOssForCausalLM",
        {"num_key_value_heads": 2, "head_dim": 16, "num_local_experts": 4, "num_experts_per_tok": 2},
    ),
}
# q/k norms over the whole projection (one row per token), 4 experts of intermediate_size, 2 per token
FAMILIES["olmoe"] = (
    "allenai--OLMoE-1B-7B-0924.json",
    "OlmoeForCausalLM",
    {"num_key_value_heads": 2, "num_experts": 4, "num_experts_per_tok": 2},
)
# sparsemixer routing (top-2 by Gumbel sampling, its own autograd function), input jitter, LayerNorm, biases; the
# LongRoPE factors are cut to the tiny head size
FAMILIES["phimoe"] = (
    "microsoft--Phi-3.5-MoE-instruct.json",
    "PhimoeForCausalLM",
    {"num_key_value_heads": 2, "num_local_experts": 4, "num_experts_per_tok": 2},
)
# MoE stacks mixing dense layers in (mlp_only_layers), the last of the 3 layers sparse: Qwen2-MoE's first layer
# dense, Qwen3-MoE's second
FAMILIES["qwen2_moe_dense"] = (*FAMILIES["qwen2_moe"][:2], {**FAMILIES["qwen2_moe"][2], "mlp_only_layers": [0]})
FAMILIES["qwen3_moe_dense"] = (*FAMILIES["qwen3_moe"][:2], {**FAMILIES["qwen3_moe"][2], "mlp_only_layers": [1]})
# multi-head latent attention: the query through a low-rank latent (V3) or its own projection (V2-Lite), keys and
# values from a compressed latent, rotary on 8 of the 24 query/key dims, values of 12; the first layer dense, 4
# routed experts in 2 groups and shared experts (V2-Lite's 2 of them) in the others
MLA: dict[str, Any] = {
    "num_key_value_heads": 4,
    "kv_lora_rank": 16,
    "qk_rope_head_dim": 8,
    "qk_nope_head_dim": 16,
    "v_head_dim": 12,
    "n_routed_experts": 4,
    "num_experts_per_tok": 2,
    "moe_intermediate_size": 32,
    "first_k_dense_replace": 1,
}
FAMILIES["deepseek_v3"] = (
    "deepseek-ai--DeepSeek-V3.json",
    "DeepseekV3ForCausalLM",
    {**MLA, "q_lora_rank": 24, "n_group": 2, "topk_group": 1},
)
FAMILIES["deepseek_v2"] = ("deepseek-ai--DeepSeek-V2-Lite.json", "DeepseekV2ForCausalLM", MLA)
# GLM-4.5-Air: DeepSeek-V3's sigmoid router and shared expert after a dense first layer, on attention with q/k/v
# biases and half of each head rotated; 4 experts in 2 groups, 2 per token
FAMILIES["glm4_moe"] = (
    "zai-org--GLM-4.5-Air.json",
    "Glm4MoeForCausalLM",
    {
        "num_key_value_heads": 2,
        "head_dim": 16,
        "n_routed_experts": 4,
        "num_experts_per_tok": 2,
        "moe_intermediate_size": 32,
        "n_group": 2,
        "topk_group": 1,
    },
)
# DeepSeek-V2's group-limited routing: the top expert's group of 2, its other experts' scores masked to zero
FAMILIES["deepseek_v2_groups"] = (
    *FAMILIES["deepseek_v2"][:2],
    {**MLA, "topk_method": "group_limited_greedy", "n_group": 2, "topk_group": 1},
)
EAGER_ONLY: Final = frozenset({"gemma2", "gpt_oss", "mpnet", "gpt_neo", "bloom", "mpt", "openai_gpt"})
"""Families whose transformers classes refuse sdpa (``_supports_sdpa`` False): measured with eager attention."""
TINY: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_attention_heads": 4,
    "vocab_size": 256,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}


def tiny_config(family: str, layers: int) -> tuple[dict[str, Any], str]:
    """The family's shipped config with tiny sizes and ``layers`` layers, and the class to build."""
    name, architecture, sizes = FAMILIES[family]
    config = {key: value for key, value in shipped(name).items() if key != "quantization_config"}
    if "VisionModel" in architecture:  # a composite model's tower class reads its vision_config
        config = dict(config["vision_config"])
    config.update(TINY if "n_embd" not in config else {"vocab_size": 256, "bos_token_id": 1, "eos_token_id": 2})
    config.update(sizes)
    if "encoder_layers" in config:  # num_hidden_layers is an alias of encoder_layers there
        config.pop("num_hidden_layers", None)
        config.update(encoder_layers=layers, decoder_layers=layers)
    elif "d_kv" in config:  # T5: num_hidden_layers is an alias of num_layers, the decoder's are apart
        config.update(num_layers=layers, num_decoder_layers=layers)
    else:
        config[next((key for key in ("n_layer", "num_layers", "n_layers") if key in config), "num_hidden_layers")] = (
            layers
        )
    if isinstance(config.get("layer_types"), list):  # one per layer
        config["layer_types"] = config["layer_types"][:layers]
    if "attention_types" in config:  # GPT-Neo: global and local layers alternating, as many as asked
        config.pop("attention_layers", None)
        config["attention_types"] = [[["global", "local"], layers // 2], *([[["global"], 1]] if layers % 2 else [])]
    config["architectures"] = [architecture]
    return config, architecture


def real_model(
    config: dict[str, Any], architecture: str, attention: str, checkpointing: bool, *, half: bool = True
) -> transformers.PreTrainedModel:
    settings = {key: value for key, value in config.items() if key not in ("architectures", "transformers_version")}
    hf_config = transformers.AutoConfig.for_model(**settings)
    model_class = getattr(transformers, architecture)
    # a class that cannot run sdpa (Gemma 2) runs eager, as transformers picks when no implementation is asked for
    hf_config._attn_implementation = attention if attention != "sdpa" or model_class._supports_sdpa else "eager"
    with torch.device("meta"):
        model: transformers.PreTrainedModel = model_class(hf_config)
    model.to_empty(device="cpu")
    torch.manual_seed(0)
    with torch.no_grad():
        model.init_weights()  # type: ignore[no-untyped-call]
    if half:
        model.bfloat16()
        # as from_pretrained loads it in 16 bits: what transformers keeps in float32 stays so (DeepSeek's router)
        keep = getattr(model, "_keep_in_fp32_modules_strict", None) or []
        for name, tensor in (*model.named_parameters(), *model.named_buffers()):
            if any(part in name for part in keep):
                tensor.data = tensor.data.float()
    model.train()
    if checkpointing:
        model.activation_checkpointing_enable()  # transformers 5's name for gradient_checkpointing_enable
    return model


def saved_bytes(model: transformers.PreTrainedModel, batch: int, seq_len: int, target_len: int | None = None) -> int:
    """Bytes of the distinct storages autograd holds for backward after one forward with labels, parameters and
    buffers aside. A tensor packed by a node that the forward drops again (a branch that does not reach the loss,
    as Phi-3.5-MoE's argmax for its midpoint mask) is not held, so each packed tensor counts only while it is
    still alive with the output. An encoder-decoder reads ``seq_len`` source tokens and ``target_len`` labels,
    which it shifts right into its ``decoder_input_ids``; Whisper's encoder reads the log-mel features of its fixed
    window instead of tokens, a speech encoder (wav2vec 2.0, HuBERT) ``seq_len`` samples of a raw waveform and, with
    its CTC head, ``target_len`` labels or as many as its frames. A task head gets its own labels: a class per
    sequence (sequence classification, whose BART-like heads read the eos token ending each sequence) or per
    token, or the answer's start and end positions (question answering); a vision transformer random images of its
    ``image_size``, an image classifier also a class label per image, the loss of its head (``seq_len`` unused: its
    tokens are its patches and class token)."""
    held = {tensor.untyped_storage().data_ptr() for tensor in (*model.parameters(), *model.buffers())}
    packed: list[tuple[weakref.ref[torch.Tensor], int, int]] = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in held:
            packed.append((weakref.ref(tensor), storage.data_ptr(), storage.nbytes()))
        return tensor

    generator = torch.Generator().manual_seed(batch * 1000 + seq_len)
    ids = torch.randint(3, 256, (batch, seq_len), generator=generator)
    labels = ids.clone() if target_len is None else torch.randint(3, 256, (batch, target_len), generator=generator)
    inputs: dict[str, torch.Tensor] = {"input_ids": ids, "labels": labels}
    kind, classes = type(model).__name__.rsplit("For", 1)[-1], model.config.num_labels or 0
    if kind in ("SequenceClassification", "QuestionAnswering"):  # BART-like heads read the eos token's states
        ids[:, -1] = model.config.eos_token_id
    if kind == "SequenceClassification":  # a class per sequence
        inputs["labels"] = torch.randint(classes, (batch,), generator=generator)
    elif kind == "TokenClassification":  # a class per token
        inputs["labels"] = torch.randint(classes, (batch, seq_len), generator=generator)
    elif kind == "QuestionAnswering":  # the answer's start and end positions instead of labels
        del inputs["labels"]
        for end in ("start_positions", "end_positions"):
            inputs[end] = torch.randint(seq_len, (batch,), generator=generator)
    if model.main_input_name == "pixel_values":  # images; an image classifier also one class label per example
        config = model.config
        side = config.image_size
        image = torch.randn((batch, config.num_channels, side, side), generator=generator)
        inputs = {"pixel_values": image.to(model.dtype)}
        if kind == "ImageClassification":
            inputs["labels"] = torch.randint(classes, (batch,), generator=generator)
    if model.main_input_name == "input_features":  # Whisper: its fixed window of log-mel features, in the dtype
        config = model.config
        shape = (batch, config.num_mel_bins, 2 * config.max_source_positions)
        inputs = {"input_features": torch.randn(shape, generator=generator).to(model.dtype), "labels": labels}
    if model.main_input_name == "input_values":  # a speech encoder: seq_len samples of the raw waveform, in the dtype
        waveform = torch.randn((batch, seq_len), generator=generator).to(model.dtype)
        inputs = {"input_values": waveform}
        if kind == "CTC":  # labels (no blank, id 0) as many as target_len, else as the frames
            frames = int(model._get_feat_extract_output_lengths(seq_len))  # type: ignore[operator]
            inputs["labels"] = torch.randint(
                1, model.config.vocab_size, (batch, target_len or frames), generator=generator
            )
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = model(**inputs)
    alive = {pointer: size for tensor, pointer, size in packed if tensor() is not None}
    del output
    return sum(alive.values())
