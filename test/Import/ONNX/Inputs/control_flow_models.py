#!/usr/bin/env python3
"""Writes small ONNX models with control flow, sequences and recurrent ops
(onnx.helper graphs) into a directory, one file per case:

    control_flow_models.py OUT_DIR

if_static        If whose condition is shape arithmetic known at import time
if_runtime       If on a run-time bool, branches of different extents
loop_for         Loop with a trip count only: a running sum and scan outputs
loop_while       Loop with a run-time condition computed by the body
loop_grow        Loop whose carried value grows each iteration (Concat)
loop_outer       Loop whose body reads an outer-scope value, run-time trip count
scan_reverse     Scan (opset 9+) with a reverse scan input and an output axis
sequence_ops     SplitToSequence, SequenceInsert/Erase/At/Length,
                 ConcatFromSequence, a Loop carrying a sequence
sequence_output  a graph output that is a sequence (an error)
loop_seq_runtime a Loop carrying a sequence with a run-time trip count (an error)
if_rank_mismatch run-time If whose branches yield different ranks (an error)
if_unsupported   an op slm does not support inside a branch (listed up front)
lstm_bidir       bidirectional LSTM with sequence_lens, initial states, peepholes
gru_reverse      reverse GRU with linear_before_reset
gru_lens         bidirectional GRU with sequence_lens
rnn_relu         RNN with Relu activation and clip
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
I64 = TensorProto.INT64
B = TensorProto.BOOL


def const(name, array):
    return helper.make_node("Constant", [], [name],
                            value=numpy_helper.from_array(np.asarray(array), name + "_v"))


def save(out, name, graph, opset=17, check=True):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, name + ".onnx"))


def if_static():
    # cond = Shape(x)[1] == 4: known at import time for x [?, 4].
    then_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["t"])], "then", [],
        [helper.make_tensor_value_info("t", F, None)])
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"])], "else", [],
        [helper.make_tensor_value_info("e", F, None)])
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        const("one", np.array([1], np.int64)),
        helper.make_node("Gather", ["shape", "one"], ["width"], axis=0),
        const("four", np.array([4], np.int64)),
        helper.make_node("Equal", ["width", "four"], ["cond"]),
        helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g),
    ]
    return helper.make_graph(
        nodes, "if_static", [helper.make_tensor_value_info("x", F, ["n", 4])],
        [helper.make_tensor_value_info("y", F, ["n", 4])])


def if_runtime():
    # then: x * 2 ([n, 4]); else: x[:, 0:2] concat x[:, 0:2] -> [n, 4] too,
    # but with a Slice the else extent is known only as 2+2; and a second
    # output of different static extents ([3] vs [5]) that joins to [?].
    then_g = helper.make_graph(
        [const("two", np.array(2.0, np.float32)),
         helper.make_node("Mul", ["x", "two"], ["t"]),
         const("t2", np.arange(3, dtype=np.float32))], "then", [],
        [helper.make_tensor_value_info("t", F, None),
         helper.make_tensor_value_info("t2", F, None)])
    else_g = helper.make_graph(
        [helper.make_node("Sub", ["x", "x"], ["z"]),
         helper.make_node("Sigmoid", ["z"], ["e"]),
         const("e2", np.arange(5, dtype=np.float32) * -1)], "else", [],
        [helper.make_tensor_value_info("e", F, None),
         helper.make_tensor_value_info("e2", F, None)])
    nodes = [helper.make_node("If", ["c"], ["y", "v"], then_branch=then_g,
                              else_branch=else_g)]
    return helper.make_graph(
        nodes, "if_runtime",
        [helper.make_tensor_value_info("c", B, []),
         helper.make_tensor_value_info("x", F, ["n", 4])],
        [helper.make_tensor_value_info("y", F, ["n", 4]),
         helper.make_tensor_value_info("v", F, ["k"])])


def loop_for():
    # for i in range(5): s = s + x * i; scan out s and i
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Cast", ["i"], ["fi"], to=F),
         helper.make_node("Mul", ["x", "fi"], ["xi"]),
         helper.make_node("Add", ["s_in", "xi"], ["s_out"]),
         helper.make_node("Identity", ["s_out"], ["scan_s"]),
         helper.make_node("Identity", ["i"], ["scan_i"])],
        "body",
        [helper.make_tensor_value_info("i", I64, []),
         helper.make_tensor_value_info("cond_in", B, []),
         helper.make_tensor_value_info("s_in", F, [3])],
        [helper.make_tensor_value_info("cond_out", B, []),
         helper.make_tensor_value_info("s_out", F, [3]),
         helper.make_tensor_value_info("scan_s", F, [3]),
         helper.make_tensor_value_info("scan_i", I64, [])])
    nodes = [const("trip", np.array(5, np.int64)),
             helper.make_node("Loop", ["trip", "", "s0"], ["s", "all_s", "all_i"], body=body)]
    return helper.make_graph(
        nodes, "loop_for",
        [helper.make_tensor_value_info("x", F, [3]),
         helper.make_tensor_value_info("s0", F, [3])],
        [helper.make_tensor_value_info("s", F, [3]),
         helper.make_tensor_value_info("all_s", F, [5, 3]),
         helper.make_tensor_value_info("all_i", I64, [5])])


def loop_while():
    # while sum(v) < limit and i < trip: v = v * 2 + 1 (the carried value's
    # extent is dynamic: v has shape [n]).
    body = helper.make_graph(
        [const("two", np.array(2.0, np.float32)),
         const("one", np.array(1.0, np.float32)),
         helper.make_node("Mul", ["v_in", "two"], ["v2"]),
         helper.make_node("Add", ["v2", "one"], ["v_out"]),
         helper.make_node("ReduceSum", ["v_out"], ["total"], keepdims=0),
         helper.make_node("Less", ["total", "limit"], ["cond_out"]),
         helper.make_node("ReduceSum", ["v_out"], ["scan_total"], keepdims=1)],
        "body",
        [helper.make_tensor_value_info("i", I64, []),
         helper.make_tensor_value_info("cond_in", B, []),
         helper.make_tensor_value_info("v_in", F, ["n"])],
        [helper.make_tensor_value_info("cond_out", B, []),
         helper.make_tensor_value_info("v_out", F, ["n"]),
         helper.make_tensor_value_info("scan_total", F, [1])])
    nodes = [const("cond0", np.array(True)),
             helper.make_node("Loop", ["trip", "cond0", "v0"], ["v", "totals"], body=body)]
    return helper.make_graph(
        nodes, "loop_while",
        [helper.make_tensor_value_info("trip", I64, []),
         helper.make_tensor_value_info("limit", F, []),
         helper.make_tensor_value_info("v0", F, ["n"])],
        [helper.make_tensor_value_info("v", F, ["n"]),
         helper.make_tensor_value_info("totals", F, ["k", 1])])


def loop_grow():
    # v = concat(v, [i]) for i in range(n): the extent changes per iteration.
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Cast", ["i"], ["fi"], to=F),
         const("axes", np.array([0], np.int64)),
         helper.make_node("Unsqueeze", ["fi", "axes"], ["fi1"]),
         helper.make_node("Concat", ["v_in", "fi1"], ["v_out"], axis=0)],
        "body",
        [helper.make_tensor_value_info("i", I64, []),
         helper.make_tensor_value_info("cond_in", B, []),
         helper.make_tensor_value_info("v_in", F, None)],
        [helper.make_tensor_value_info("cond_out", B, []),
         helper.make_tensor_value_info("v_out", F, None)])
    nodes = [helper.make_node("Loop", ["n", "", "v0"], ["v"], body=body)]
    return helper.make_graph(
        nodes, "loop_grow",
        [helper.make_tensor_value_info("n", I64, []),
         helper.make_tensor_value_info("v0", F, [2])],
        [helper.make_tensor_value_info("v", F, ["k"])])


def loop_outer():
    # for i in range(trip): acc = acc @ w + bias (w, bias from the outer graph);
    # the carried value grows in rank 2 with dynamic batch.
    body = helper.make_graph(
        [helper.make_node("MatMul", ["a_in", "w"], ["aw"]),
         helper.make_node("Add", ["aw", "bias"], ["a_pre"]),
         helper.make_node("Tanh", ["a_pre"], ["a_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", I64, []),
         helper.make_tensor_value_info("cond_in", B, []),
         helper.make_tensor_value_info("a_in", F, ["b", 4])],
        [helper.make_tensor_value_info("cond_out", B, []),
         helper.make_tensor_value_info("a_out", F, ["b", 4])])
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32) * 0.5, "w")
    bias = numpy_helper.from_array(rng.standard_normal((4,)).astype(np.float32), "bias")
    nodes = [helper.make_node("Loop", ["trip", "", "a0"], ["a"], body=body)]
    return helper.make_graph(
        nodes, "loop_outer",
        [helper.make_tensor_value_info("trip", I64, []),
         helper.make_tensor_value_info("a0", F, ["b", 4])],
        [helper.make_tensor_value_info("a", F, ["b", 4])], initializer=[w, bias])


def scan_reverse():
    # Cumulative sums of x ([T, 3]) from the end; outputs stacked on axis 1.
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "row"], ["s_out"]),
         helper.make_node("Identity", ["s_out"], ["out"])],
        "body",
        [helper.make_tensor_value_info("s_in", F, [3]),
         helper.make_tensor_value_info("row", F, [3])],
        [helper.make_tensor_value_info("s_out", F, [3]),
         helper.make_tensor_value_info("out", F, [3])])
    nodes = [helper.make_node("Scan", ["s0", "x"], ["s", "sums"], body=body,
                              num_scan_inputs=1, scan_input_directions=[1],
                              scan_output_axes=[1])]
    return helper.make_graph(
        nodes, "scan_reverse",
        [helper.make_tensor_value_info("s0", F, [3]),
         helper.make_tensor_value_info("x", F, ["t", 3])],
        [helper.make_tensor_value_info("s", F, [3]),
         helper.make_tensor_value_info("sums", F, [3, "t"])])


def sequence_ops():
    # parts = SplitToSequence(x, axis=1)  (4 parts of [n, 1])
    # parts.insert(0, y); parts.erase(-1); n = len(parts)
    # picked = parts[p] (run-time position)
    # doubled = Loop over 2 iterations appending Relu(part) to a sequence
    # out = ConcatFromSequence(parts, axis=1) ; stacked = new_axis
    loop_body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("SequenceAt", ["parts", "i"], ["part"]),
         helper.make_node("Relu", ["part"], ["relu"]),
         helper.make_node("SequenceInsert", ["seq_in", "relu"], ["seq_out"])],
        "body",
        [helper.make_tensor_value_info("i", I64, []),
         helper.make_tensor_value_info("cond_in", B, []),
         helper.make_tensor_sequence_value_info("seq_in", F, None)],
        [helper.make_tensor_value_info("cond_out", B, []),
         helper.make_tensor_sequence_value_info("seq_out", F, None)])
    nodes = [
        helper.make_node("SplitToSequence", ["x"], ["split"], axis=1),
        const("zero", np.array(0, np.int64)),
        helper.make_node("SequenceInsert", ["split", "y", "zero"], ["inserted"]),
        helper.make_node("SequenceErase", ["inserted"], ["parts"]),
        helper.make_node("SequenceLength", ["parts"], ["len"]),
        helper.make_node("SequenceAt", ["parts", "p"], ["picked"]),
        helper.make_node("SequenceEmpty", [], ["empty"], dtype=F),
        const("two", np.array(2, np.int64)),
        helper.make_node("Loop", ["two", "", "empty"], ["relus"], body=loop_body),
        helper.make_node("ConcatFromSequence", ["relus"], ["relu_cat"], axis=1),
        helper.make_node("ConcatFromSequence", ["parts"], ["cat"], axis=1),
        helper.make_node("ConcatFromSequence", ["parts"], ["stacked"], axis=0, new_axis=1),
        helper.make_node("Identity", ["len"], ["length"]),
    ]
    return helper.make_graph(
        nodes, "sequence_ops",
        [helper.make_tensor_value_info("x", F, ["n", 4]),
         helper.make_tensor_value_info("y", F, ["n", 1]),
         helper.make_tensor_value_info("p", I64, [])],
        [helper.make_tensor_value_info("cat", F, ["n", 4]),
         helper.make_tensor_value_info("stacked", F, [4, "n", 1]),
         helper.make_tensor_value_info("picked", F, ["n", 1]),
         helper.make_tensor_value_info("relu_cat", F, ["n", 2]),
         helper.make_tensor_value_info("length", I64, [])])


def sequence_output():
    nodes = [helper.make_node("SequenceConstruct", ["x", "x"], ["s"])]
    return helper.make_graph(
        nodes, "sequence_output", [helper.make_tensor_value_info("x", F, [2])],
        [helper.make_tensor_sequence_value_info("s", F, None)])


def loop_seq_runtime():
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("SequenceInsert", ["seq_in", "x"], ["seq_out"])],
        "body",
        [helper.make_tensor_value_info("i", I64, []),
         helper.make_tensor_value_info("cond_in", B, []),
         helper.make_tensor_sequence_value_info("seq_in", F, None)],
        [helper.make_tensor_value_info("cond_out", B, []),
         helper.make_tensor_sequence_value_info("seq_out", F, None)])
    nodes = [helper.make_node("SequenceEmpty", [], ["empty"], dtype=F),
             helper.make_node("Loop", ["trip", "", "empty"], ["seq"], body=body),
             helper.make_node("ConcatFromSequence", ["seq"], ["y"], axis=0)]
    return helper.make_graph(
        nodes, "loop_seq_runtime",
        [helper.make_tensor_value_info("trip", I64, []),
         helper.make_tensor_value_info("x", F, [2])],
        [helper.make_tensor_value_info("y", F, ["k"])])


def if_rank_mismatch():
    then_g = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["t"])], "then", [],
        [helper.make_tensor_value_info("t", F, None)])
    else_g = helper.make_graph(
        [const("e", np.zeros((2, 2), np.float32))], "else", [],
        [helper.make_tensor_value_info("e", F, None)])
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    return helper.make_graph(
        nodes, "if_rank_mismatch",
        [helper.make_tensor_value_info("c", B, []),
         helper.make_tensor_value_info("x", F, [4])],
        [helper.make_tensor_value_info("y", F, [4])])


def if_unsupported():
    then_g = helper.make_graph(
        [helper.make_node("TfIdfVectorizer", ["x"], ["t"], mode="TF", min_gram_length=1,
                          max_gram_length=1, max_skip_count=0, ngram_counts=[0],
                          ngram_indexes=[0], pool_int64s=[1])],
        "then", [], [helper.make_tensor_value_info("t", F, None)])
    else_g = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["e"], to=F)], "else", [],
        [helper.make_tensor_value_info("e", F, None)])
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    return helper.make_graph(
        nodes, "if_unsupported",
        [helper.make_tensor_value_info("c", B, []),
         helper.make_tensor_value_info("x", I64, [4])],
        [helper.make_tensor_value_info("y", F, [4])])


def recurrent(op, name, hidden, extra_inputs, attrs, outputs, seq=5, batch=3,
              inp=4, dirs=1, gates=4, layout=0, peephole=False):
    rng = np.random.default_rng(len(name))
    W = numpy_helper.from_array(
        (rng.standard_normal((dirs, gates * hidden, inp)) * 0.4).astype(np.float32), "W")
    R = numpy_helper.from_array(
        (rng.standard_normal((dirs, gates * hidden, hidden)) * 0.4).astype(np.float32), "R")
    Bv = numpy_helper.from_array(
        (rng.standard_normal((dirs, 2 * gates * hidden)) * 0.2).astype(np.float32), "B")
    inits = [W, R, Bv]
    ins = ["X", "W", "R", "B"]
    inputs = [helper.make_tensor_value_info(
        "X", F, ["b", "s", inp] if layout else ["s", "b", inp])]
    if "lens" in extra_inputs:
        ins.append("lens")
        inputs.append(helper.make_tensor_value_info("lens", TensorProto.INT32, ["b"]))
    else:
        ins.append("")
    state = ["b", dirs, hidden] if layout else [dirs, "b", hidden]
    if "h0" in extra_inputs:
        ins.append("h0")
        inputs.append(helper.make_tensor_value_info("h0", F, state))
    else:
        ins.append("")
    if op == "LSTM":
        if "c0" in extra_inputs:
            ins.append("c0")
            inputs.append(helper.make_tensor_value_info("c0", F, state))
        else:
            ins.append("")
        if peephole:
            P = numpy_helper.from_array(
                (rng.standard_normal((dirs, 3 * hidden)) * 0.3).astype(np.float32), "P")
            inits.append(P)
            ins.append("P")
    while ins and ins[-1] == "":
        ins.pop()
    node = helper.make_node(op, ins, outputs, hidden_size=hidden, **attrs)
    outs = []
    for o in outputs:
        if o == "Y":
            shape = ["b", "s", dirs, hidden] if layout else ["s", dirs, "b", hidden]
        else:
            shape = state
        outs.append(helper.make_tensor_value_info(o, F, shape))
    return helper.make_graph([node], name, inputs, outs, initializer=inits)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    save(out, "if_static", if_static())
    save(out, "if_runtime", if_runtime())
    save(out, "loop_for", loop_for())
    save(out, "loop_while", loop_while())
    save(out, "loop_grow", loop_grow(), check=False)
    save(out, "loop_outer", loop_outer())
    save(out, "scan_reverse", scan_reverse())
    save(out, "sequence_ops", sequence_ops())
    save(out, "sequence_output", sequence_output())
    save(out, "loop_seq_runtime", loop_seq_runtime())
    save(out, "if_rank_mismatch", if_rank_mismatch(), check=False)
    save(out, "if_unsupported", if_unsupported(), check=False)
    save(out, "lstm_bidir", recurrent(
        "LSTM", "lstm_bidir", 5, ["lens", "h0", "c0"],
        dict(direction="bidirectional"), ["Y", "Y_h", "Y_c"], dirs=2, peephole=True))
    save(out, "gru_reverse", recurrent(
        "GRU", "gru_reverse", 4, ["h0"],
        dict(direction="reverse", linear_before_reset=1), ["Y", "Y_h"],
        gates=3), opset=14)
    save(out, "gru_lens", recurrent(
        "GRU", "gru_lens", 4, ["lens"], dict(direction="bidirectional"), ["Y", "Y_h"],
        gates=3, dirs=2))
    save(out, "rnn_relu", recurrent(
        "RNN", "rnn_relu", 6, ["h0"], dict(activations=["Relu"], clip=1.5), ["Y", "Y_h"],
        gates=1))


if __name__ == "__main__":
    main()
