//===- Passes.td - slm code generation passes --------------*- tablegen -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// The CPU code generation passes that are not conversions: they rewrite
// linalg (on tensors or buffers), loops and math for the CPU.
//
//===----------------------------------------------------------------------===//

#ifndef SLM_CODEGEN_PASSES_TD
#define SLM_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def SLMPrepareModelEntry
    : Pass<"slm-prepare-model-entry", "::mlir::ModuleOp"> {
  let summary = "Give the model's entry function its ABI name and a C interface";
  let description = [{
    The model library's `slm_model_run` (docs/ABI.md) calls the entry
    function through its C interface. This pass renames `@main` (option
    `entry`) to `@slm_model_main` (option `lowered-name`: "main" would read
    as a program's entry in the object file) and marks it
    `llvm.emit_c_interface`, so that `convert-func-to-llvm` also emits
    `_mlir_ciface_slm_model_main`, taking descriptors by pointer. Tensor
    arguments are marked `bufferization.writable = false`: input buffers
    stay the caller's, so an op that updates one (a scatter into a graph
    input) works on a copy. A module
    without the entry is left as it is (slmc reports that earlier, when it
    describes the model's interface). The first pass of the CPU lower
    phase (`--slm-lower-to-llvm`).

    Before:
    ```mlir
    func.func @main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
      return %x : tensor<2x4xf32>
    }
    ```
    After:
    ```mlir
    func.func @slm_model_main(%x: tensor<2x4xf32>
                                  {bufferization.writable = false})
        -> tensor<2x4xf32> attributes {llvm.emit_c_interface} {
      return %x : tensor<2x4xf32>
    }
    ```
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"main\"",
           "The model's entry function">,
    Option<"loweredName", "lowered-name", "std::string",
           /*default=*/"\"slm_model_main\"",
           "Its name in the lowered module">,
  ];
}

def SLMLowerRunTimeChecks
    : Pass<"slm-lower-run-time-checks", "::mlir::ModuleOp"> {
  let summary = "Turn cf.assert into a failure the model reports to its caller";
  let description = [{
    Run-time checks (`cf.assert`: an index out of range, ...) must not abort
    the process that runs a model. This pass gives the entry function
    (option `entry`) a trailing `!llvm.ptr` argument, the run's failure slot
    (a `const char *`, null on entry), and replaces each `cf.assert` with a
    branch that stores its message there unless an earlier failure already
    did (an atomic compare-and-swap: checks may fail on several threads of
    one run). The run goes on (code that asserts also clamps what it
    accesses); the entry points of docs/ABI.md report the slot.
    `cf.assert` outside the entry function is an error. A module without
    `cf.assert` is left as it is.

    Before:
    ```mlir
    func.func @slm_model_main(%x: tensor<4xf32>, %i: index) -> f32 {
      %ok = arith.cmpi ult, %i, %c4 : index
      cf.assert %ok, "'g' (Gather): index out of range"
      ...
    }
    ```
    After:
    ```mlir
    llvm.mlir.global private constant @slm_check_message_0("'g' (Gather): index out of range\00")
    func.func @slm_model_main(%x: tensor<4xf32>, %i: index, %slot: !llvm.ptr) -> f32 {
      %ok = arith.cmpi ult, %i, %c4 : index
      %failed = arith.xori %ok, %true : i1
      scf.if %failed {
        %message = llvm.mlir.addressof @slm_check_message_0 : !llvm.ptr
        %null = llvm.mlir.zero : !llvm.ptr
        %0 = llvm.cmpxchg %slot, %null, %message monotonic monotonic : !llvm.ptr, !llvm.ptr
      }
      ...
    }
    ```
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"slm_model_main\"",
           "The model's entry function (after slm-prepare-model-entry)">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

def SLMLowerMemRefCopy : Pass<"slm-lower-memref-copy"> {
  let summary = "Rewrite memref.copy as vector loads and stores, or a linalg copy, so that it becomes loops";
  let description = [{
    `memref.copy` between strided buffers lowers to a call into MLIR's C
    runner library, which a compiled model must not depend on. A copy
    between buffers contiguous along their last dimension (of 8- to 64-bit
    elements) becomes vector loads and stores: a parallel loop over the
    other dimensions, whole 512-bit vectors along the last one (narrower
    when the last extent is a static smaller one), the rest masked. LLVM
    would not vectorize the scalar form: it cannot prove that the two
    buffers do not overlap (a KV cache appended into the next step's cache
    ran as scalar copies, 8% of a batch-8 decode step). Any other copy
    becomes a `linalg.generic` copy, then plain loops.

    Before:
    ```mlir
    memref.copy %a, %b : memref<?x?x64xf32> to memref<?x?x64xf32, strided<[?, 64, 1]>>
    memref.copy %c, %d : memref<?x4xf32, strided<[8, 2]>> to memref<?x4xf32>
    ```
    After:
    ```mlir
    scf.parallel (%i, %j) = (%c0, %c0) to (%d0, %d1) step (%c1, %c1) {
      scf.for %k = %c0 to %c64 step %c16 {
        %v = vector.load %a[%i, %j, %k] : memref<?x?x64xf32>, vector<16xf32>
        vector.store %v, %b[%i, %j, %k] : memref<?x?x64xf32, strided<[?, 64, 1]>>, vector<16xf32>
      }
      scf.reduce
    }
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                    iterator_types = ["parallel", "parallel"]}
        ins(%c : memref<?x4xf32, strided<[8, 2]>>) outs(%d : memref<?x4xf32>) {
    ^bb0(%in: f32, %out: f32):
      linalg.yield %in : f32
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}


def SLMFuseElementwise : Pass<"slm-fuse-elementwise"> {
  let summary = "Fuse elementwise linalg ops, keeping GEMM operands in the layout the kernels need";
  let description = [{
    Upstream elementwise fusion (`linalg-fuse-elementwise-ops`: producer
    into consumer, reshape folding by expansion; transposes are generalized
    first so that they take part), except what would break the GEMM
    kernels: into a contraction only copies fold (transposes, broadcasts),
    on the left-hand side always (it is read an element at a time), on the
    right-hand side only when its innermost index stays the output column
    (`--slm-vectorize-contractions` loads whole column vectors). So the
    head split of Q and of V is read in place, while K^T stays a
    materialized transpose (one pass over a small tensor). A contraction's
    declaration (`slm.contraction`) stays on it when a copy is folded in;
    `no-fuse-into-contractions=false` gives the upstream behaviour, and a
    contraction that absorbs anything but a copy loses its declaration.
    Then a `linalg.fill` with several consumers (CSE merges equal fills) is
    cloned for each: bufferization would otherwise copy it for all but one,
    and a fill of its own fuses with its consumer's loop nest later.

    Before (`%t` feeds both a contraction and an elementwise op):
    ```mlir
    %t = linalg.generic {... ["parallel", "parallel"]} ins(%k) outs(%e0) { transpose }
    %s = linalg.generic {... ["parallel", "parallel", "reduction"]} ins(%q, %t) outs(%acc) { mul-add }
    %a = linalg.generic {... ["parallel", "parallel"]} ins(%s) outs(%e1) { exp }
    %b = linalg.generic {... ["parallel", "parallel"]} ins(%a) outs(%e2) { mul }
    ```
    After: `%a` and `%b` are one generic; `%t` stays a separate transpose.
  }];
  let options = [
    Option<"noFuseIntoContractions", "no-fuse-into-contractions", "bool",
           /*default=*/"true",
           "Keep producers out of contractions">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SLMLowerFusedAttention : Pass<"slm-lower-fused-attention"> {
  let summary = "Emit the flash-style CPU kernel of each slm.fused_attention on buffers";
  let description = [{
    One parallel loop over (batch, key/value head, tile of 32 query rows,
    or 16 when a key/value head has at most 16: a decode step); the rows of
    a key/value head are its group's heads at every query position,
    interleaved, so grouped-query decoding fills the lanes with the group's
    heads. The rows are the lanes of one or two vectors: `Q` is gathered
    once per task into `Qt`, then per block of keys (16 / row vectors)
    `s_j = Qt . K[j]` (16 accumulators, one broadcast of K per key and
    step), scale, mask (gathered per lane, or one broadcast when the mask
    does not vary by row), the causal limit `j <= i + (Skv - Sq)` (the
    lowest finite value, as the decomposition), and an online softmax
    whose running maximum and sum are vectors: `Ot` is rescaled and
    accumulates `p_j * V[j]` (one broadcast of V per key and step).
    Rows are divided by their sum and written to the result at the end.
    Nothing of size `Sq x Skv` exists; Q, K, V and the mask are read in
    place through their strides (one copied first when its head width is
    not contiguous). Without a mask, key blocks past a tile's causal limit
    are skipped.

    Before:
    ```mlir
    slm.fused_attention %q, %k, %v outs %out {causal, num_heads = 4 : i64, scale = 0.125 : f64, seq_dims = array<i64: 2, 2, 2>}
        : (memref<?x4x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>, memref<?x?x256xf32>) -> ()
    ```
    After:
    ```mlir
    scf.parallel (%b, %kvh, %t) = (%c0, %c0, %c0) to (%batch, %c2, %tiles) step (%c1, %c1, %c1) {
      memref.alloca_scope {
        // gather Qt; scf.for over key blocks with (max, sum) vectors:
        //   scf.for over d: 16 x vector.fma (Qt[d], broadcast K[j, d])
        //   mask, causal select, exp, rescale; scf.for over e: Ot[e] += p_j * V[j, e]
        // scale by 1 / sum, write the rows
      }
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def SLMVectorizeContractions : Pass<"slm-vectorize-contractions"> {
  let summary = "Lower contractions on buffers to register-blocked vector GEMM kernels";
  let description = [{
    The kernel of each contraction is planned from its declaration
    (`slm.contraction = #slm.contraction<kind = ..., panel, group>`, set by
    `--convert-slm-to-linalg`): the kind gives the kernel family and the
    roles of the operands, the indexing maps give the loops of rows,
    columns and reductions, and `panel` and `group` are checked against
    the static extents. The body is checked to compute what the kind
    declares. A declared contraction that cannot be planned (its body or
    layout disagrees with the declaration, or it is still on tensors) is an
    error: it never falls back to loops silently. The one exception is
    `u8s8_dot` with neither `vnni=true` nor `avx2=true`, left as loops
    (one warning, and a remark each under `report=true`). An f32
    contraction without a declaration gets the f32 kernel when upstream's
    `ContractionOpInterface` recognises it; `report=true` says why one was
    left as loops.

    Kinds and their kernels: `f32` and `int8_weight` the f32 GEMM below
    (int8 codes widened and scaled in registers), `u8s8_dot` the VNNI
    kernel (`vpdpbusd`, dequantizing epilogue applied in registers; with
    `avx2=true` and no VNNI, `vpmaddwd` on codes widened to int16),
    `int4`/`nf4` the 4-bit kernel (codes decoded by `vpermps` lookups),
    `bf16_dot` the same dot kernel two k at a time (`vdpbf16ps` with
    `bf16=true`; otherwise each bf16 pair widened to two f32 vectors by a
    shift and a mask and summed by two FMAs: exact products, f32 speed).

    Every f32 `linalg` contraction on buffers (`C[.., m, n] += A[.., m, k] *
    B[.., k, n]`, any further parallel dimensions, broadcast operands
    allowed) whose `B` and `C` are contiguous along `n` becomes a GEMM
    micro-kernel: `mr` rows by `nr` columns of `C` live in vector registers
    (`mr * nr / 16` accumulators of `vector<16xf32>`) across the whole
    reduction; each step loads `nr / 16` vectors of `B`, broadcasts one
    element of `A` per row and issues `vector.fma`s; B is prefetched
    `prefetch-distance` steps ahead (weights stream from memory: measured
    about 10% on BERT-base). Tiles outside the
    register block (the last rows, columns past a dynamic or odd `n`) use a
    one-row kernel and masked loads and stores. A fill or broadcast (a
    bias) that writes C right before is folded in: the accumulators start
    from its value and C is written once. The outer parallel
    dimensions and blocks of `m-block` rows by `n-block` columns form one
    `scf.parallel` (threads through OpenMP later).

    Weights packed by `convert-slm-to-linalg` into column panels
    (`[N/32, K, 32]`, see `slm.linear`) make `B` one contiguous stream per
    tile; activations (`Q K^T`, `P V`) are read in place with a row stride.

    Before:
    ```mlir
    linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                     affine_map<(m, n, k) -> (k, n)>,
                                     affine_map<(m, n, k) -> (m, n)>],
                    iterator_types = ["parallel", "parallel", "reduction"],
                    slm.contraction = #slm.contraction<kind = f32>}
        ins(%a, %b : memref<?x64xf32>, memref<64x128xf32>)
        outs(%c : memref<?x128xf32>) { mul-add }
    ```
    After (abridged):
    ```mlir
    scf.parallel (%mb, %nb) = (%c0, %c0) to (%mblocks, %c1) step (%c1, %c1) {
      scf.for %n0 = %nstart to %nend step %c32 {
        scf.for %m0 = %mstart to %mfull step %c8 {
          %acc = vector.load %c[%m0, %n0] : memref<?x128xf32>, vector<16xf32>
          ...   // 16 accumulators
          %r:16 = scf.for %k = %c0 to %c64 step %c1 iter_args(...) {
            %b0 = vector.load %b[%k, %n0] : memref<64x128xf32>, vector<16xf32>
            %a0 = memref.load %a[%m0, %k] : memref<?x64xf32>
            %s0 = vector.broadcast %a0 : f32 to vector<16xf32>
            %f0 = vector.fma %s0, %b0, %acc0 : vector<16xf32>
            ...
          }
          vector.store %r#0, %c[%m0, %n0] : memref<?x128xf32>, vector<16xf32>
          ...
        }
        scf.for %m0 = %mfull to %mend step %c1 { ... one row ... }
      }
    }
    ```
  }];
  let options = [
    Option<"mr", "mr", "int64_t", /*default=*/"8",
           "Rows of C per register tile">,
    Option<"nr", "nr", "int64_t", /*default=*/"32",
           "Columns of C per register tile (a multiple of 16)">,
    Option<"mBlock", "m-block", "int64_t", /*default=*/"64",
           "Rows of C per parallel task">,
    Option<"nBlock", "n-block", "int64_t", /*default=*/"128",
           "Columns of C per parallel task (a multiple of nr)">,
    Option<"kBlock", "k-block", "int64_t", /*default=*/"0",
           "Reduction steps per pass over a task's row tiles, so that the "
           "slice of B they share stays in L1 (0: the whole reduction)">,
    Option<"prefetchDistance", "prefetch-distance", "int64_t",
           /*default=*/"16",
           "Reduction steps ahead at which B is prefetched (0: no prefetch)">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit a remark for each contraction left as loops, with the reason">,
    Option<"vnni", "vnni", "bool", /*default=*/"false",
           "The target has AVX-512 VNNI: uint8 x int8 dot-product "
           "contractions (W8A8) become vpdpbusd kernels">,
    Option<"avx2", "avx2", "bool", /*default=*/"false",
           "The target has AVX2: without vnni=true, uint8 x int8 "
           "contractions become vpmaddwd kernels on codes widened to int16 "
           "(exact)">,
    Option<"bf16", "bf16", "bool", /*default=*/"false",
           "The target has AVX512-BF16: bf16 dot-product contractions "
           "(--precision=bf16) become vdpbf16ps kernels (else two f32 FMAs "
           "per pair)">,
    Option<"lookup", "lookup", "std::string", /*default=*/"\"avx512\"",
           "How the int4/NF4 kernel decodes 16 codes: avx512 (one vpermps), "
           "avx2 (two 8-lane vpermps and a blend; int4 converts), generic "
           "(a tree of selects, any target)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def SLMSerializeSmallLoops : Pass<"slm-serialize-small-loops"> {
  let summary = "Run parallel loop nests with too little work on one thread";
  let description = [{
    Every `scf.parallel` becomes an OpenMP region, and entering one costs a
    fork and a join (microseconds): at decode shapes (one token) most loop
    nests are a few hundred elements and cost more to fork than to run.
    For each outermost `scf.parallel` without reductions this pass
    estimates the work (operations in the body, times the trip counts of
    inner loops with constant bounds; an inner loop with unknown bounds
    counts as `min-work`) times the parallel trip count. Below `min-work`
    the nest becomes sequential `scf.for` loops. With dynamic bounds the
    choice is made when the loop runs: `scf.if` selects the parallel nest or
    a sequential copy.

    Before (`min-work=4096`):
    ```mlir
    scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
      scf.for %j = %c0 to %c768 step %c1 { ... 3 ops ... }
    }
    ```
    After:
    ```mlir
    scf.for %i = %c0 to %c4 step %c1 {
      scf.for %j = %c0 to %c768 step %c1 { ... }
    }
    ```
  }];
  let options = [
    Option<"minWork", "min-work", "int64_t", /*default=*/"16384",
           "Estimated operations below which a parallel nest runs on one "
           "thread">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

def SLMScheduleParallelLoops : Pass<"slm-schedule-parallel-loops"> {
  let summary = "Choose how OpenMP deals out the iterations of parallel loops";
  let description = [{
    `convert-scf-to-openmp` leaves every `omp.wsloop` without a schedule:
    OpenMP's default, one contiguous part per thread, fixed when the loop
    starts. When another process holds one of the cores, the thread that
    shares it runs its part at a fraction of the speed and every loop waits
    for it. With `schedule=dynamic` each thread takes `chunk` iterations at
    a time (an atomic increment each) until none are left, so a thread that
    runs slower takes fewer; the loops the kernels emit iterate over tiles
    of microseconds of work, which makes the increment cheap. A loop whose
    iterations hold little work (an elementwise nest over rows and heads,
    32 elements each) takes `ceil(chunk-work / work)` of them at a time
    instead, the work estimated from its body (operations, with inner loops
    of constant trip count multiplied out): on MiniLM b8 s128 chunks of one
    such iteration spent about 9 ms of 129 in the increments.
    `schedule=static` removes any schedule (OpenMP's default), `guided`
    deals out shrinking chunks, `runtime` defers to the OpenMP runtime.
    Loops nested inside another worksharing loop (which run on one thread)
    keep theirs. The thread pool models link (lib/Runtime/ModelThreads.c)
    never waits for a thread that has not joined a region with dynamic
    loops only; a static loop makes a region wait for its whole team.

    Before (`schedule=dynamic chunk=1`):
    ```mlir
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) { ... }
    }
    ```
    After:
    ```mlir
    %c1_i64 = llvm.mlir.constant(1 : i64) : i64
    omp.wsloop schedule(dynamic = %c1_i64 : i64) {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) { ... }
    }
    ```
  }];
  let options = [
    Option<"schedule", "schedule", "std::string", /*default=*/"\"dynamic\"",
           "static, dynamic, guided or runtime">,
    Option<"chunk", "chunk", "int64_t", /*default=*/"1",
           "Iterations a thread takes at a time (dynamic and guided; 0: "
           "OpenMP's default)">,
    Option<"chunkWork", "chunk-work", "int64_t", /*default=*/"32768",
           "Fewest estimated operations a thread takes at a time: a loop "
           "whose iterations hold less each takes several (0: chunk only)">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::omp::OpenMPDialect"];
}

def SLMShrinkBufferLifetimes : Pass<"slm-shrink-buffer-lifetimes"> {
  let summary = "Free each buffer after its last use and allocate it just before its first";
  let description = [{
    The ownership-based deallocation pipeline frees a block's buffers at
    the end of the block. A model's entry function is one block, so every
    intermediate of every layer stayed allocated until the run returned
    (BERT-base at batch 8 x 128 tokens peaked at 923 MB, 461 MB with this
    pass). Each `memref.dealloc` of a buffer allocated in the
    same block moves up to just after the last operation of the block that
    uses the buffer or a memref derived from it (views, casts, the results
    and block arguments of ops whose regions receive or may yield it), and
    each `memref.alloc` moves down to just before its first use. The model's
    allocation cache then hands a freed buffer to the next request of its
    size: peak memory follows the live buffers, not their sum. A buffer with
    a use out of sight (its address taken as an integer, an LLVM or
    unrealized-cast operation, the block's terminator, a use outside the
    block) keeps its dealloc where it was. Runs after the loops are fused
    (`parallel-loop-fusion` does not fuse across a dealloc).

    Before:
    ```mlir
    %a = memref.alloc() : memref<64xf32>
    %b = memref.alloc() : memref<64xf32>
    linalg.fill ins(%x : f32) outs(%a : memref<64xf32>)
    linalg.copy ins(%a : memref<64xf32>) outs(%out : memref<64xf32>)
    linalg.fill ins(%x : f32) outs(%b : memref<64xf32>)
    memref.dealloc %a : memref<64xf32>
    memref.dealloc %b : memref<64xf32>
    ```
    After:
    ```mlir
    %a = memref.alloc() : memref<64xf32>
    linalg.fill ins(%x : f32) outs(%a : memref<64xf32>)
    linalg.copy ins(%a : memref<64xf32>) outs(%out : memref<64xf32>)
    memref.dealloc %a : memref<64xf32>
    %b = memref.alloc() : memref<64xf32>
    linalg.fill ins(%x : f32) outs(%b : memref<64xf32>)
    memref.dealloc %b : memref<64xf32>
    ```
  }];
}

def SLMOutlineLoopNests : Pass<"slm-outline-loop-nests", "::mlir::ModuleOp"> {
  let summary = "Move each loop nest into a function of its own, one per distinct body";
  let description = [{
    A lowered model is one function of thousands of loop nests, and LLVM's
    loop passes (strength reduction, vectorization, scalar evolution) cost
    more than linearly in the size of the function they run on. Each
    top-level operation of a function that holds a loop (an `scf.for`, an
    `scf.parallel`, the `scf.if` between a parallel nest and its sequential
    copy) becomes a call to a private function marked `noinline` (with
    internal linkage in LLVM). The
    values it uses from above become arguments, except constants and other
    operations of no operands and no effects, which the body recomputes
    (loop bounds stay constants for LLVM). Outlined functions with the same
    body (the same nest in every layer of a model, on other weights) are
    one function: LLVM compiles one layer's worth of loops.

    Before:
    ```mlir
    func.func @f(%a: memref<8xf32>, %b: memref<8xf32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c8 = arith.constant 8 : index
      scf.for %i = %c0 to %c8 step %c1 { ... %a ... }
      scf.for %i = %c0 to %c8 step %c1 { ... %b ... }
      return
    }
    ```
    After (both loops had the same body up to the buffer):
    ```mlir
    func.func @f(%a: memref<8xf32>, %b: memref<8xf32>) {
      call @f_nest0(%a) : (memref<8xf32>) -> ()
      call @f_nest0(%b) : (memref<8xf32>) -> ()
      return
    }
    func.func private @f_nest0(%arg0: memref<8xf32>) attributes {
        llvm.linkage = #llvm.linkage<internal>, passthrough = ["noinline"]} {
      %c0 = arith.constant 0 : index
      ...
      scf.for %i = %c0 to %c8 step %c1 { ... %arg0 ... }
      return
    }
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect"];
  let statistics = [
    Statistic<"numOutlined", "outlined", "Loop nests moved into functions">,
    Statistic<"numShared", "shared",
              "Loop nests that call a function outlined before">
  ];
}

def SLMSequentialInnerLoops : Pass<"slm-sequential-inner-loops"> {
  let summary = "Make the innermost dimension of parallel loop nests a sequential loop";
  let description = [{
    `convert-linalg-to-parallel-loops` turns every dimension of an
    elementwise op into one multi-dimensional `scf.parallel`, which OpenMP
    collapses into a single index: the contiguous innermost loop is gone and
    LLVM cannot vectorize it. This pass keeps the outer dimensions parallel
    (threads) and makes the innermost one an `scf.for`, a unit-stride loop
    that LLVM's loop vectorizer turns into AVX-512 code. One-dimensional
    nests, nests with reductions, and nests whose body has loops of its own
    (a row reduction: its innermost loop is sequential already, and every
    row stays a unit of parallel work) are left as they are.

    Before:
    ```mlir
    scf.parallel (%i, %j) = (%c0, %c0) to (%m, %n) step (%c1, %c1) {
      %x = memref.load %a[%i, %j] : memref<?x?xf32>
      memref.store %x, %b[%i, %j] : memref<?x?xf32>
    }
    ```
    After:
    ```mlir
    scf.parallel (%i) = (%c0) to (%m) step (%c1) {
      scf.for %j = %c0 to %n step %c1 {
        %x = memref.load %a[%i, %j] : memref<?x?xf32>
        memref.store %x, %b[%i, %j] : memref<?x?xf32>
      }
    }
    ```
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

def SLMApproximateMath : Pass<"slm-approximate-math"> {
  let summary = "Replace math.erf, math.exp, math.tanh, ... with polynomial approximations";
  let description = [{
    Upstream's f32 polynomial approximations (`populateMathPolynomialApproximationPatterns`):
    arithmetic only, so loops that use them vectorize, instead of calling
    libm once per element. Errors stay within a few f32 ulps (the parity
    tests against ONNX Runtime check whole models).

    Before:
    ```mlir
    %y = math.erf %x : f32
    ```
    After: a rational polynomial in `%x` of `arith` ops (no call).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def SLMPromoteAccumulators : Pass<"slm-promote-accumulators"> {
  let summary = "Keep reduction accumulators in registers across sequential loops";
  let description = [{
    Reductions lowered to loops read and write their accumulator in memory
    on every iteration (`acc[i] = acc[i] + x[i, j]`). Nothing tells LLVM
    that the accumulator's buffer differs from the input's, so it can
    neither keep the sum in a register nor vectorize the loop. When the
    accumulator is a buffer allocated in the function (`memref.alloc`), at
    indices fixed across an `scf.for`, and nothing else in the loop touches
    that buffer, it is loaded once before the loop, carried as an
    `iter_args` value and stored once after it. With `reassoc` on the sum
    (set by `convert-slm-to-linalg`), LLVM then vectorizes the reduction.

    Before:
    ```mlir
    scf.for %j = %c0 to %n step %c1 {
      %x = memref.load %in[%i, %j] : memref<?x?xf32>
      %a = memref.load %acc[%i] : memref<?xf32>
      %s = arith.addf %a, %x fastmath<reassoc> : f32
      memref.store %s, %acc[%i] : memref<?xf32>
    }
    ```
    After:
    ```mlir
    %a0 = memref.load %acc[%i] : memref<?xf32>
    %r = scf.for %j = %c0 to %n step %c1 iter_args(%a = %a0) -> (f32) {
      %x = memref.load %in[%i, %j] : memref<?x?xf32>
      %s = arith.addf %a, %x fastmath<reassoc> : f32
      scf.yield %s : f32
    }
    memref.store %r, %acc[%i] : memref<?xf32>
    ```
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

#endif // SLM_CODEGEN_PASSES_TD
