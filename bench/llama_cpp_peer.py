"""llama.cpp as a peer engine of bench/generate.py (opt-in: scripts/install-llama-cpp.sh).

The benchmark's exact Hugging Face model (build_model()'s seeded weights) is
written to GGUF with gguf.GGUFWriter, tensor for tensor as llama.cpp's own
convert_hf_to_gguf.py writes a LlamaForCausalLM: the same tensor names, the
Q and K projection rows permuted by LlamaModel.permute (llama.cpp rotates
adjacent pairs, Hugging Face the two halves of each head), tied embeddings
as token_embd.weight alone (no output.weight), the same llama.* metadata,
and a Llama-style vocabulary (<unk> <s> </s>, 256 byte tokens, filler
tokens: the model has no tokenizer, and the benchmark feeds token ids).
The sdist's converter itself needs torch >= 2.1 and sentencepiece (this
venv has Debian's torch 1.13), which is why it is not run here.
Q8_0 and Q4_0 come from llama.cpp's own quantizer (llama_model_quantize,
default parameters: its standard mixes).

check() compares llama.cpp on the F32 file with PyTorch; Engine is the
greedy loop the benchmark times, over llama.cpp's batch API (llama_decode,
one sequence id per row).
"""
import ctypes
import os

KINDS = {"f32": None, "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0"}
INSTALL_HINT = "the llama.cpp settings need scripts/install-llama-cpp.sh"


def available():
    try:
        import gguf  # noqa: F401
        import llama_cpp  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def _quiet():
    """llama.cpp's log (through the binding's Python callback): errors only."""
    import llama_cpp._logger
    llama_cpp._logger.set_verbose(False)


def permute(w, n_head, n_head_kv=None):
    """convert_hf_to_gguf.py's LlamaModel.permute: HF's half-split rope rows to
    llama.cpp's interleaved pairs, per head."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def synthetic_vocab(n):
    """What convert_hf_to_gguf.py writes (tokenizer.ggml.model "llama") for a
    byte-fallback BPE tokenizer.json with these tokens: control <unk> <s> </s>,
    the 256 byte tokens, then n - 259 normal filler tokens."""
    import gguf
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.CONTROL] * 3 + [gguf.TokenType.BYTE] * 256
    if n < len(tokens):
        raise ValueError(f"a vocabulary of {n} is too small")
    tokens += [f"\u2581t{i}" for i in range(n - len(tokens))]
    types += [gguf.TokenType.NORMAL] * (n - len(types))
    return tokens, [-1000.0] * n, [int(t) for t in types]


def write_gguf(model, path, name):
    """The Hugging Face LlamaForCausalLM `model` as an F32 GGUF at `path`."""
    import gguf
    import numpy as np
    c = model.config
    n_head, n_kv = c.num_attention_heads, c.num_key_value_heads
    head_dim = c.hidden_size // n_head
    assert c.tie_word_embeddings and not getattr(c, "attention_bias", False)
    assert not getattr(c, "mlp_bias", False) and c.rope_scaling is None
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    tmp = path + ".tmp"
    w = gguf.GGUFWriter(tmp, "llama")
    w.add_type("model")
    w.add_name(name)
    w.add_block_count(c.num_hidden_layers)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(c.rope_theta)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_vocab_size(c.vocab_size)
    w.add_rope_dimension_count(head_dim)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    tokens, scores, types = synthetic_vocab(c.vocab_size)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(False)  # the benchmark feeds token ids

    tensors = {"token_embd.weight": sd.pop("model.embed_tokens.weight"),
               "output_norm.weight": sd.pop("model.norm.weight")}
    lm_head = sd.pop("lm_head.weight", None)  # tied: the converter writes no output.weight
    assert lm_head is None or np.array_equal(lm_head, tensors["token_embd.weight"])
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q",
             "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for i in range(c.num_hidden_layers):
        for hf, gg in names.items():
            t = sd.pop(f"model.layers.{i}.{hf}.weight")
            if gg == "attn_q":
                t = permute(t, n_head, n_head)
            elif gg == "attn_k":
                t = permute(t, n_head, n_kv)
            tensors[f"blk.{i}.{gg}.weight"] = t
    assert not sd, f"tensors not converted: {sorted(sd)}"
    for k, t in tensors.items():
        w.add_tensor(k, np.ascontiguousarray(t, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, path)


def quantize(src, dst, kind, threads):
    """llama.cpp's quantizer, default parameters, ftype LLAMA_FTYPE_MOSTLY_<KIND>."""
    import llama_cpp
    _quiet()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, KINDS[kind])
    params.nthread = threads
    tmp = dst + ".tmp"
    rc = llama_cpp.llama_model_quantize(src.encode(), tmp.encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src}, {kind}) returned {rc}")
    os.replace(tmp, dst)


def gguf_paths(out, name):
    return {k: os.path.join(out, f"{name}.llama-cpp-{k}.gguf") for k in KINDS}


def ensure_ggufs(out, name, build_model, threads, log=print):
    """The F32, Q8_0 and Q4_0 files in `out`, made when missing."""
    import time
    paths = gguf_paths(out, name)
    if not os.path.exists(paths["f32"]):
        start = time.perf_counter()
        write_gguf(build_model(), paths["f32"], name)
        log(f"llama.cpp f32: wrote {paths['f32']} in {time.perf_counter() - start:.1f} s")
    for kind, path in paths.items():
        if kind == "f32":
            continue
        if os.path.exists(path):
            continue
        start = time.perf_counter()
        quantize(paths["f32"], path, kind, threads)
        log(f"llama.cpp {kind}: quantized {path} in {time.perf_counter() - start:.1f} s")
    return paths


def tensor_types(path):
    """{ggml type name: count} of a GGUF's tensors (what the quantizer chose)."""
    import collections
    import gguf
    return dict(collections.Counter(t.tensor_type.name for t in gguf.GGUFReader(path).tensors))


class Engine:
    """A llama.cpp model and one context for `n_seq` sequences of up to `n_ctx_seq`
    tokens each; generate() is greedy decoding, all sequences in one llama_decode."""

    def __init__(self, path, threads, n_seq, n_ctx_seq, n_batch, model=None):
        import llama_cpp as L
        self.L = L
        _quiet()
        L.llama_backend_init()
        self.own_model = model is None
        if model is None:
            mp = L.llama_model_default_params()
            model = L.llama_model_load_from_file(path.encode(), mp)
            if not model:
                raise RuntimeError(f"llama.cpp cannot load {path}")
        self.model = model
        cp = L.llama_context_default_params()
        # Per-sequence caches are padded to 256 cells; n_ctx is all sequences' together.
        cp.n_ctx = n_seq * (-(-n_ctx_seq // 256) * 256)
        cp.n_batch = cp.n_ubatch = n_batch
        cp.n_seq_max = n_seq
        cp.n_threads = cp.n_threads_batch = threads
        cp.no_perf = True
        self.ctx = L.llama_init_from_model(model, cp)
        if not self.ctx:
            raise RuntimeError("llama.cpp cannot create a context")
        self.n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
        self.n_seq, self.n_batch = n_seq, n_batch
        self.batch = L.llama_batch_init(n_batch, 0, n_seq)

    def close(self):
        L = self.L
        L.llama_batch_free(self.batch)
        L.llama_free(self.ctx)
        if self.own_model:
            L.llama_model_free(self.model)

    def _decode(self, rows):
        """rows: [(token, pos, seq, wants logits)] -> argmax per row that wants logits."""
        import numpy as np
        L, b = self.L, self.batch
        assert len(rows) <= self.n_batch
        outs = []
        for i, (tok, pos, seq, logits) in enumerate(rows):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = logits
            if logits:
                outs.append(i)
        b.n_tokens = len(rows)
        rc = L.llama_decode(self.ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        return [int(np.argmax(np.ctypeslib.as_array(L.llama_get_logits_ith(self.ctx, i),
                                                     shape=(self.n_vocab,)))) for i in outs]

    def generate(self, ids, new_tokens, on_step=lambda: None):
        """Greedy: ids [batch, length] -> [batch][new_tokens] token ids; on_step() after
        each token (of all sequences), the first after the prompt's evaluation."""
        L = self.L
        batch, length = ids.shape
        assert batch <= self.n_seq
        L.llama_memory_clear(L.llama_get_memory(self.ctx), True)
        rows = [(int(ids[s, p]), p, s, p == length - 1) for s in range(batch) for p in range(length)]
        # The prompts in as few llama_decode calls as n_batch allows (one at batch 1).
        last = []
        while rows:
            chunk, rows = rows[:self.n_batch], rows[self.n_batch:]
            last += self._decode(chunk)
        out = [[t] for t in last]
        on_step()
        for n in range(1, new_tokens):
            nxt = self._decode([(out[s][-1], length + n - 1, s, True) for s in range(batch)])
            for s, t in enumerate(nxt):
                out[s].append(t)
            on_step()
        return out


def torch_greedy(model, ids, new_tokens):
    """PyTorch's greedy loop with the cache: [batch][new_tokens]."""
    import torch
    import transformers
    with torch.no_grad():
        out = model(torch.from_numpy(ids), past_key_values=transformers.DynamicCache(),
                    use_cache=True)
        tok = out.logits[:, -1].argmax(-1, keepdim=True)
        toks = [tok]
        for _ in range(new_tokens - 1):
            out = model(tok, past_key_values=out.past_key_values, use_cache=True)
            tok = out.logits[:, -1].argmax(-1, keepdim=True)
            toks.append(tok)
    return torch.cat(toks, 1).tolist()


def check(model, paths, prompt, prompts8, new_tokens, threads, log=print):
    """llama.cpp's F32 file against PyTorch: logits of `prompt` [1, length] through
    the high-level Llama (logits_all, eval, scores), greedy tokens through Engine at
    batch 1 and at batch 8 (`prompts8`); the quantized files' agreement with F32.
    Returns a dict; ["ok"] is whether F32 matches."""
    import numpy as np
    import torch
    import llama_cpp
    torch.set_num_threads(threads)
    length = prompt.shape[1]
    n_ctx = length + new_tokens
    res = {}
    with torch.no_grad():
        ref = model(torch.from_numpy(prompt)).logits[0].float().numpy()
    def logits(path, tokens, **kw):
        llm = llama_cpp.Llama(path, logits_all=True, n_ctx=n_ctx, n_batch=n_ctx, n_threads=threads,
                              n_threads_batch=threads, verbose=False, **kw)
        llm.eval(tokens)
        return np.array(llm.scores[:len(tokens)], dtype=np.float32)

    def rel(a, b):
        return float(np.abs(a - b).max() / np.abs(b).max())

    got = logits(paths["f32"], prompt[0].tolist())
    err = rel(got, ref)
    res["logits rel max err"] = err
    res["logits argmax agreement"] = float((got.argmax(-1) == ref.argmax(-1)).mean())
    log(f"f32 logits ({length} positions x {ref.shape[1]}): relative max error {err:.2e} "
        f"(max |ref| {np.abs(ref).max():.3f}), per-position argmax agreement "
        f"{res['logits argmax agreement']:.3f}")
    f32_kv = rel(logits(paths["f32"], prompt[0].tolist(), type_k=0, type_v=0), ref)  # GGML_TYPE_F32
    res["logits rel max err, f32 KV cache"] = f32_kv
    log(f"  (llama.cpp's default f16 KV cache; with an f32 KV cache: {f32_kv:.2e})")

    want1 = torch_greedy(model, prompt, new_tokens)
    want8 = torch_greedy(model, prompts8, new_tokens)
    greedy = {}
    for kind, path in paths.items():
        e1 = Engine(path, threads, 1, n_ctx, max(512, length))
        greedy[kind] = e1.generate(prompt, new_tokens)
        if kind == "f32":
            e8 = Engine(path, threads, 8, n_ctx, max(512, 8 * length), model=e1.model)
            got8 = e8.generate(prompts8, new_tokens)
            e8.close()
        e1.close()
    same1 = sum(a == b for a, b in zip(greedy["f32"][0], want1[0]))
    same8 = sum(a == b for r, w in zip(got8, want8) for a, b in zip(r, w))
    res["greedy b1 same"] = f"{same1}/{new_tokens}"
    res["greedy b8 same"] = f"{same8}/{8 * new_tokens}"
    log(f"f32 greedy, {new_tokens} tokens: batch 1 {same1}/{new_tokens} the same as PyTorch, "
        f"batch 8 {same8}/{8 * new_tokens}")
    ok = err <= 1e-3 and same1 == new_tokens and same8 == 8 * new_tokens
    if not ok:
        log(f"  PyTorch   {want1[0]}\n  llama.cpp {greedy['f32'][0]}")
    # Quantized files: free-running greedy against f32 (position by position), and
    # next-token agreement teacher-forced on f32's greedy continuation.
    seq = prompt[0].tolist() + greedy["f32"][0]
    f32_logits = logits(paths["f32"], seq[:-1])
    for kind in ("q8_0", "q4_0"):
        free = sum(a == b for a, b in zip(greedy[kind][0], greedy["f32"][0]))
        prefix = next((i for i, (a, b) in enumerate(zip(greedy[kind][0], greedy["f32"][0]))
                       if a != b), new_tokens)
        q = logits(paths[kind], seq[:-1])
        pred = q[length - 1:].argmax(-1)
        forced = int((pred == np.array(greedy["f32"][0])).sum())
        res[f"{kind} vs f32"] = dict(free_running_same=free, first_difference=prefix,
                                     teacher_forced_same=forced, logits_rel_max_err=rel(q, f32_logits),
                                     tensor_types=tensor_types(paths[kind]))
        log(f"{kind} vs f32 over {new_tokens} greedy steps: logits relative max error "
            f"{rel(q, f32_logits):.2e}; next token the same {forced}/"
            f"{new_tokens} (teacher-forced on f32's tokens); free-running {free}/{new_tokens} "
            f"the same, first difference at step {prefix if prefix < new_tokens else 'none'}; tensors {tensor_types(paths[kind])}")
    res["ok"] = ok
    return res
