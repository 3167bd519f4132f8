#!/usr/bin/env python3
"""Builds the architecture zoo: tiny random HF transformers models exported
to ONNX, with their input data sets.

    export_zoo.py OUT_DIR [--families a,b,...] [--opsets 14,17] [--jobs 2]
                  [--no-variants]

Every family is built from a tiny config (1-2 layers, hidden 32-64, vocab
<= 512) with seeded random weights (norm scales and biases perturbed too, so
that a dropped gamma or beta shows), wrapped in a keyword-only forward and
exported by torch.onnx.export at each opset with dynamic batch and sequence
axes (dynamic batch only where the model's length is fixed: images,
Whisper's log-mel frames). Decoders run without a KV cache.

Written to OUT_DIR:
  <family>_op<opset>.onnx          the plain export
  <family>_op17_<variant>.onnx     ORT-processed forms of the opset-17 export
                                   (variants: ortopt = onnxruntime.transformers
                                   optimizer, qdyn = quantize_dynamic, qdq =
                                   QDQ quantize_static, nbits = MatMulNBits)
  <family>.<dataset>.npz           inputs of a data set, by graph input name
  zoo.json                         {"models": [{"id", "family", "opset",
                                   "variant", "path", "datasets"}],
                                   "families": {family: {"kind", "hf"}}}
A variant ORT's own tools fail to produce is recorded in zoo.json with
"error" instead of "path". Nothing is downloaded: configs are built in code.
"""
import argparse
import json
import multiprocessing
import os
import sys
import traceback
import warnings

import onnx  # noqa: F401  (before torch: Debian's onnx must not shadow the venv's)
import numpy as np

# Family name -> (kind, HF class). kind selects inputs and data sets.
FAMILIES = {}


def family(name, kind, hf):
    def register(build):
        FAMILIES[name] = dict(kind=kind, hf=hf, build=build)
        return build
    return register


VOCAB = 256
OPSETS = (14, 17)


def _tiny(cls, **kw):
    import transformers
    config = getattr(transformers, cls)(**kw)
    config._attn_implementation = "eager"
    return config


def _text(config_cls, model_cls, **kw):
    import transformers
    base = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=4, intermediate_size=64,
                max_position_embeddings=64, initializer_range=0.1)
    base.update(kw)
    config = _tiny(config_cls, **base)
    return getattr(transformers, model_cls)(config)


@family("bert", "encoder", "BertModel")
def _bert():
    return _text("BertConfig", "BertModel")


@family("roberta", "encoder", "RobertaModel")
def _roberta():
    return _text("RobertaConfig", "RobertaModel", pad_token_id=1)


@family("xlm-roberta", "encoder", "XLMRobertaModel")
def _xlmr():
    return _text("XLMRobertaConfig", "XLMRobertaModel", pad_token_id=1)


@family("distilbert", "encoder", "DistilBertModel")
def _distilbert():
    import transformers
    config = _tiny("DistilBertConfig", vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4,
                   hidden_dim=64, max_position_embeddings=64, initializer_range=0.1)
    return transformers.DistilBertModel(config)


@family("albert", "encoder", "AlbertModel")
def _albert():
    return _text("AlbertConfig", "AlbertModel", embedding_size=16)


@family("electra", "encoder", "ElectraModel")
def _electra():
    return _text("ElectraConfig", "ElectraModel", embedding_size=16)


@family("deberta-v2", "encoder", "DebertaV2Model")
def _deberta():
    return _text("DebertaV2Config", "DebertaV2Model", relative_attention=True,
                 position_buckets=16, max_relative_positions=32,
                 pos_att_type=["p2c", "c2p"], position_biased_input=False)


@family("mpnet", "encoder", "MPNetModel")
def _mpnet():
    return _text("MPNetConfig", "MPNetModel",
                 pad_token_id=1)


@family("gpt2", "decoder", "GPT2LMHeadModel")
def _gpt2():
    import transformers
    config = _tiny("GPT2Config", vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4,
                   n_positions=64, initializer_range=0.1, use_cache=False)
    return transformers.GPT2LMHeadModel(config)


@family("gpt-neo", "decoder", "GPTNeoForCausalLM")
def _gptneo():
    import transformers
    config = _tiny("GPTNeoConfig", vocab_size=VOCAB, hidden_size=32, num_layers=2,
                   num_heads=4, attention_types=[[["global", "local"], 1]], window_size=4,
                   max_position_embeddings=64, initializer_range=0.1, use_cache=False)
    return transformers.GPTNeoForCausalLM(config)


@family("opt", "decoder", "OPTForCausalLM")
def _opt():
    import transformers
    config = _tiny("OPTConfig", vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                   num_attention_heads=4, ffn_dim=64, word_embed_proj_dim=32,
                   max_position_embeddings=64, init_std=0.1, use_cache=False)
    return transformers.OPTForCausalLM(config)


@family("bloom", "decoder", "BloomForCausalLM")
def _bloom():
    import transformers
    config = _tiny("BloomConfig", vocab_size=VOCAB, hidden_size=32, n_layer=2, n_head=4,
                   initializer_range=0.1, use_cache=False)
    return transformers.BloomForCausalLM(config)


def _llama_like(config_cls, model_cls, **kw):
    base = dict(num_key_value_heads=2, use_cache=False, tie_word_embeddings=False)
    base.update(kw)
    return _text(config_cls, model_cls, **base)


@family("llama", "decoder", "LlamaForCausalLM")
def _llama():
    return _llama_like("LlamaConfig", "LlamaForCausalLM")


@family("mistral", "decoder", "MistralForCausalLM")
def _mistral():
    return _llama_like("MistralConfig", "MistralForCausalLM", sliding_window=None)


@family("qwen2", "decoder", "Qwen2ForCausalLM")
def _qwen2():
    return _llama_like("Qwen2Config", "Qwen2ForCausalLM")


@family("phi", "decoder", "PhiForCausalLM")
def _phi():
    return _llama_like("PhiConfig", "PhiForCausalLM", partial_rotary_factor=0.5)


@family("gemma", "decoder", "GemmaForCausalLM")
def _gemma():
    return _llama_like("GemmaConfig", "GemmaForCausalLM", head_dim=8,
                       hidden_activation="gelu_pytorch_tanh")


def _t5():
    import transformers
    config = _tiny("T5Config", vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                   num_decoder_layers=2, num_heads=4, relative_attention_num_buckets=8,
                   relative_attention_max_distance=16, initializer_factor=1.0,
                   feed_forward_proj="gated-gelu", use_cache=False)
    return transformers.T5Model(config)


@family("t5-encoder", "encoder", "T5EncoderModel")
def _t5_encoder():
    return _t5().encoder


@family("t5-decoder", "cross-decoder", "T5Stack (decoder)")
def _t5_decoder():
    return _t5().decoder


def _bart():
    import transformers
    config = _tiny("BartConfig", vocab_size=VOCAB, d_model=32, encoder_layers=2,
                   decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
                   encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                   init_std=0.1, use_cache=False)
    return transformers.BartModel(config)


@family("bart-encoder", "encoder", "BartEncoder")
def _bart_encoder():
    return _bart().encoder


@family("bart-decoder", "cross-decoder", "BartDecoder")
def _bart_decoder():
    return _bart().decoder


@family("marian", "seq2seq", "MarianMTModel")
def _marian():
    import transformers
    config = _tiny("MarianConfig", vocab_size=VOCAB, d_model=32, encoder_layers=1,
                   decoder_layers=1, encoder_attention_heads=4, decoder_attention_heads=4,
                   encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                   init_std=0.1, pad_token_id=VOCAB - 1, decoder_start_token_id=VOCAB - 1,
                   use_cache=False)
    return transformers.MarianMTModel(config)


def _vision(config_cls, model_cls, **kw):
    base = dict(image_size=32, patch_size=8, num_channels=3, hidden_size=32,
                num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                initializer_range=0.1)
    base.update(kw)
    import transformers
    return getattr(transformers, model_cls)(_tiny(config_cls, **base))


@family("vit", "vision", "ViTModel")
def _vit():
    return _vision("ViTConfig", "ViTModel")


@family("deit", "vision", "DeiTModel")
def _deit():
    return _vision("DeiTConfig", "DeiTModel")


@family("swin", "vision", "SwinModel")
def _swin():
    import transformers
    config = _tiny("SwinConfig", image_size=32, patch_size=4, num_channels=3, embed_dim=16,
                   depths=[2, 1], num_heads=[2, 4], window_size=4, mlp_ratio=2.0,
                   initializer_range=0.1)
    return transformers.SwinModel(config)


@family("dinov2", "vision", "Dinov2Model")
def _dinov2():
    return _vision("Dinov2Config", "Dinov2Model", mlp_ratio=2)


@family("clip-text", "encoder", "CLIPTextModel")
def _clip_text():
    return _text("CLIPTextConfig", "CLIPTextModel", projection_dim=32, eos_token_id=2)


@family("clip-vision", "vision", "CLIPVisionModel")
def _clip_vision():
    return _vision("CLIPVisionConfig", "CLIPVisionModel", projection_dim=32)


@family("whisper-encoder", "audio-features", "WhisperEncoder")
def _whisper():
    import transformers
    config = _tiny("WhisperConfig", vocab_size=VOCAB, num_mel_bins=16, d_model=32,
                   encoder_layers=2, decoder_layers=1, encoder_attention_heads=4,
                   decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
                   max_source_positions=16, max_target_positions=32, init_std=0.1,
                   pad_token_id=VOCAB - 1, bos_token_id=VOCAB - 2, eos_token_id=VOCAB - 1,
                   decoder_start_token_id=VOCAB - 2, use_cache=False)
    return transformers.WhisperModel(config).encoder


@family("wav2vec2", "audio", "Wav2Vec2Model")
def _wav2vec2():
    import transformers
    from transformers.models.wav2vec2 import modeling_wav2vec2
    # Its FSDP probe imports torch.distributed.fsdp, which fails on Debian's
    # torch 1.13 under Python 3.11; the model is never FSDP-managed here.
    modeling_wav2vec2.is_fsdp_managed_module = lambda module: False
    config = _tiny("Wav2Vec2Config", hidden_size=32, num_hidden_layers=2,
                   num_attention_heads=4, intermediate_size=64, conv_dim=(16, 16),
                   conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=16,
                   num_conv_pos_embedding_groups=4, feat_extract_norm="layer",
                   do_stable_layer_norm=True, initializer_range=0.1, vocab_size=VOCAB,
                   apply_spec_augment=False)
    return transformers.Wav2Vec2Model(config)


# ----------------------------------------------------------------------------
# Inputs and data sets per kind.

def _ids(rng, batch, seq, low=3):
    return rng.integers(low, VOCAB - 2, (batch, seq)).astype(np.int64)


def _mask(lengths, seq):
    m = np.zeros((len(lengths), seq), np.int64)
    for row, n in enumerate(lengths):
        m[row, :n] = 1
    return m


def datasets(kind, model, rng):
    """Data sets of a kind: {name: {input: array}} (unpadded, padded)."""
    if kind in ("encoder", "decoder"):
        return {
            "unpadded": {"input_ids": _ids(rng, 2, 7), "attention_mask": _mask([7, 7], 7)},
            "padded": {"input_ids": _ids(rng, 2, 9), "attention_mask": _mask([9, 5], 9)},
        }
    if kind == "cross-decoder":
        d = model.config.d_model
        return {
            "unpadded": {"input_ids": _ids(rng, 2, 5),
                         "encoder_hidden_states": rng.standard_normal((2, 7, d)).astype(np.float32),
                         "encoder_attention_mask": _mask([7, 7], 7)},
            "padded": {"input_ids": _ids(rng, 2, 6),
                       "encoder_hidden_states": rng.standard_normal((2, 9, d)).astype(np.float32),
                       "encoder_attention_mask": _mask([9, 4], 9)},
        }
    if kind == "seq2seq":
        return {
            "unpadded": {"input_ids": _ids(rng, 2, 7), "attention_mask": _mask([7, 7], 7),
                         "decoder_input_ids": _ids(rng, 2, 5)},
            "padded": {"input_ids": _ids(rng, 2, 9), "attention_mask": _mask([9, 4], 9),
                       "decoder_input_ids": _ids(rng, 2, 6)},
        }
    if kind == "vision":
        # No mask: the second data set is another batch size.
        return {
            "batch1": {"pixel_values": rng.standard_normal((1, 3, 32, 32)).astype(np.float32)},
            "batch2": {"pixel_values": rng.standard_normal((2, 3, 32, 32)).astype(np.float32)},
        }
    if kind == "audio-features":
        frames = 2 * model.config.max_source_positions
        mels = model.config.num_mel_bins
        return {
            "batch1": {"input_features": rng.standard_normal((1, mels, frames)).astype(np.float32)},
            "batch2": {"input_features": rng.standard_normal((2, mels, frames)).astype(np.float32)},
        }
    if kind == "audio":
        return {
            "unpadded": {"input_values": rng.standard_normal((2, 400)).astype(np.float32),
                         "attention_mask": _mask([400, 400], 400)},
            "padded": {"input_values": rng.standard_normal((2, 480)).astype(np.float32),
                       "attention_mask": _mask([480, 300], 480)},
        }
    raise ValueError(kind)


DYNAMIC = {
    "input_ids": {0: "batch", 1: "sequence"},
    "attention_mask": {0: "batch", 1: "sequence"},
    "decoder_input_ids": {0: "batch", 1: "decoder_sequence"},
    "encoder_hidden_states": {0: "batch", 1: "encoder_sequence"},
    "encoder_attention_mask": {0: "batch", 1: "encoder_sequence"},
    "pixel_values": {0: "batch"},
    "input_features": {0: "batch"},
    "input_values": {0: "batch", 1: "samples"},
}


def _wrap(model, names):
    """A module whose positional forward passes `names` as keywords and
    returns the first output (hidden states or logits)."""
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *args):
            kw = dict(zip(names, args))
            if "use_cache" in model.forward.__code__.co_varnames:
                kw["use_cache"] = False
            out = self.model(**kw, return_dict=False)
            return out[0]

    return Wrapper()


def _perturb(model, seed):
    """Random norm scales and biases: HF initializes them to 1 and 0, which
    would hide a dropped gamma or beta."""
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.add_(torch.randn(p.shape, generator=g) * 0.2)


# ORT transformer optimizer model types and head counts, where it applies.
ORT_OPT = {
    "bert": ("bert", 4, 32), "roberta": ("bert", 4, 32), "xlm-roberta": ("bert", 4, 32),
    "distilbert": ("bert", 4, 32), "electra": ("bert", 4, 32), "albert": ("bert", 4, 32),
    "gpt2": ("gpt2", 4, 32), "t5-encoder": ("t5", 4, 32), "bart-encoder": ("bart", 4, 32),
    "vit": ("vit", 4, 32), "clip-text": ("clip", 4, 32), "swin": ("swin", 0, 0),
    "phi": ("phi", 4, 32),
}


def make_variants(fam, path, sets, out):
    """ORT-processed forms of one opset-17 export: {variant: path or error}."""
    import contextlib
    import io
    import logging
    logging.disable(logging.WARNING)
    result = {}
    base = path[:-len(".onnx")]

    def attempt(variant, produce):
        target = f"{base}_{variant}.onnx"
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                produce(target)
            result[variant] = target
        except Exception as e:  # noqa: BLE001 - recorded, not fatal
            result[variant] = "error: " + (str(e).splitlines() or [type(e).__name__])[0][:200]

    if fam in ORT_OPT:
        model_type, heads, hidden = ORT_OPT[fam]

        def ortopt(target):
            from onnxruntime.transformers.optimizer import optimize_model
            opt = optimize_model(path, model_type=model_type, num_heads=heads,
                                 hidden_size=hidden, opt_level=0, use_gpu=False)
            opt.save_model_to_file(target)
        attempt("ortopt", ortopt)

    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_dynamic, quantize_static)

    def qdyn(target):
        quantize_dynamic(path, target, weight_type=QuantType.QInt8)
    attempt("qdyn", qdyn)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(list(sets.values()))

        def get_next(self):
            return next(self.items, None)

    def qdq(target):
        quantize_static(path, target, Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    attempt("qdq", qdq)

    def nbits(target):
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
        q = MatMulNBitsQuantizer(onnx.load(path), block_size=16, is_symmetric=True)
        q.process()
        q.model.save_model_to_file(target)
    attempt("nbits", nbits)
    return result


def export_decoder_with_cache(model, path, opset=17):
    """Exports a Hugging Face causal LM with a KV cache, as Optimum names it:
    inputs input_ids, attention_mask [batch, total_sequence], position_ids
    and past_key_values.<i>.key/value [batch, kv_heads, past_sequence,
    head_dim]; outputs logits and present.<i>.key/value (the legacy cache
    tuples, which torch 1.13's tracer follows)."""
    import torch
    cfg = model.config
    layers = cfg.num_hidden_layers
    kv_heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads

    class WithCache(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, position_ids, *past):
            pkv = tuple((past[2 * i], past[2 * i + 1]) for i in range(layers))
            out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                             position_ids=position_ids, past_key_values=pkv,
                             use_cache=True, return_dict=True)
            present = out.past_key_values
            if hasattr(present, "to_legacy_cache"):
                present = present.to_legacy_cache()
            return (out.logits, *[t for kv in present for t in kv])

    b, p, t = 2, 3, 2
    sample = (torch.randint(0, cfg.vocab_size, (b, t)),
              torch.ones(b, p + t, dtype=torch.int64),
              torch.arange(p, p + t).expand(b, t),
              *[torch.randn(b, kv_heads, p, head_dim) for _ in range(2 * layers)])
    cache = [f"{i}.{k}" for i in range(layers) for k in ("key", "value")]
    inputs = ["input_ids", "attention_mask", "position_ids"] + [
        "past_key_values." + c for c in cache]
    outputs = ["logits"] + ["present." + c for c in cache]
    dynamic = {"input_ids": {0: "batch", 1: "sequence"},
               "attention_mask": {0: "batch", 1: "total_sequence"},
               "position_ids": {0: "batch", 1: "sequence"},
               "logits": {0: "batch", 1: "sequence"}}
    dynamic.update({n: {0: "batch", 2: "past_sequence"} for n in inputs[3:]})
    dynamic.update({n: {0: "batch", 2: "total_sequence"} for n in outputs[1:]})
    with torch.no_grad():
        torch.onnx.export(WithCache(), sample, path, opset_version=opset, input_names=inputs,
                          output_names=outputs, dynamic_axes=dynamic, do_constant_folding=True)


def export_family(args):
    fam, out, opsets, variants = args
    import torch
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    import transformers
    transformers.logging.set_verbosity_error()
    spec = FAMILIES[fam]
    entries = []
    try:
        torch.manual_seed(0)
        model = spec["build"]().eval()
        _perturb(model, 1)
        rng = np.random.default_rng(0)
        sets = datasets(spec["kind"], model, rng)
        for name, feeds in sets.items():
            np.savez(os.path.join(out, f"{fam}.{name}.npz"), **feeds)
        names = list(next(iter(sets.values())).keys())
        wrapper = _wrap(model, names)
        sample = tuple(torch.from_numpy(a) for a in sets[list(sets)[-1]].values())
        for opset in opsets:
            path = os.path.join(out, f"{fam}_op{opset}.onnx")
            entry = dict(id=f"{fam}_op{opset}", family=fam, opset=opset, variant="plain",
                         datasets=list(sets))
            try:
                with torch.no_grad():
                    torch.onnx.export(wrapper, sample, path, opset_version=opset,
                                      input_names=names, output_names=["output"],
                                      dynamic_axes={n: DYNAMIC[n] for n in names},
                                      do_constant_folding=True)
                entry["path"] = os.path.basename(path)
            except Exception as e:  # noqa: BLE001
                entry["error"] = "export: " + str(e).splitlines()[0][:200]
            entries.append(entry)
            if variants and opset == 17 and "path" in entry:
                for variant, res in make_variants(fam, path, sets, out).items():
                    v = dict(id=f"{fam}_op17_{variant}", family=fam, opset=17,
                             variant=variant, datasets=list(sets))
                    if res.startswith("error:"):
                        v["error"] = res
                    else:
                        v["path"] = os.path.basename(res)
                    entries.append(v)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        entries.append(dict(id=f"{fam}", family=fam, opset=0, variant="plain", datasets=[],
                            error="build: " + str(e).splitlines()[0][:200]))
    return entries


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--opsets", default=",".join(map(str, OPSETS)))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--no-variants", action="store_true")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    fams = [f for f in args.families.split(",") if f]
    unknown = [f for f in fams if f not in FAMILIES]
    if unknown:
        sys.exit(f"unknown families: {unknown}")
    opsets = [int(o) for o in args.opsets.split(",")]
    work = [(f, args.out, opsets, not args.no_variants) for f in fams]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(args.jobs, maxtasksperchild=None) as pool:
        results = pool.map(export_family, work, chunksize=1)
    models = [e for r in results for e in r]
    manifest = dict(models=models,
                    families={f: dict(kind=FAMILIES[f]["kind"], hf=FAMILIES[f]["hf"])
                              for f in fams})
    with open(os.path.join(args.out, "zoo.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    bad = [m["id"] + ": " + m["error"] for m in models if "error" in m]
    print(f"{len(models) - len(bad)} models exported, {len(bad)} not")
    for line in bad:
        print("  " + line)


if __name__ == "__main__":
    main()
