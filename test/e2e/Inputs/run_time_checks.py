#!/usr/bin/env python3
"""Models and data for run-time-checks.test and dtypes.test.

    run_time_checks.py make DIR     writes the ONNX models and .npy data
    run_time_checks.py python DIR   checks them through the Python API
                                    (after slmc compiled DIR/*.onnx to .so)

gather.onnx: a token-embedding lookup (Gather of a [10, 4] table, node
'embed_lookup'), emb[i, j] = 10 * ids[i] + j. quantize.onnx: QuantizeLinear
to uint8 (y = saturate(round(x / 0.5) + 128)) and back (DequantizeLinear).
dropout.onnx: Dropout with run-time ratio and training_mode and its mask.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VOCAB, DIM = 10, 4
TABLE = (10 * np.arange(VOCAB)[:, None] + np.arange(DIM)[None, :]).astype(np.float32)


def make(out):
    os.makedirs(out, exist_ok=True)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["emb"], name="embed_lookup", axis=0)],
        "gather",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["seq"])],
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["seq", DIM])],
        [numpy_helper.from_array(TABLE, "table")])
    save(graph, out, "gather.onnx")
    for name, ids in (("good", [1, 9, -1, 0]), ("bad", [1, 10, 2]), ("badneg", [-11]),
                      ("empty", [])):
        ids = np.array(ids, np.int64)
        np.save(os.path.join(out, name + ".npy"), ids)
        if name in ("good", "empty"):
            np.save(os.path.join(out, name + "_emb.npy"), TABLE[ids].reshape(-1, DIM))

    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], name="quant"),
         helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["d"], name="dequant")],
        "quantize",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6])],
        [helper.make_tensor_value_info("q", TensorProto.UINT8, [6]),
         helper.make_tensor_value_info("d", TensorProto.FLOAT, [6])],
        [numpy_helper.from_array(np.array(0.5, np.float32), "s"),
         numpy_helper.from_array(np.array(128, np.uint8), "zp")])
    save(graph, out, "quantize.onnx")
    x = np.array([0.0, 0.25, 0.75, -64.0, 100.0, -1000.0], np.float32)
    q = np.clip(np.round(x / 0.5) + 128, 0, 255).astype(np.uint8)
    np.save(os.path.join(out, "qx.npy"), x)
    np.save(os.path.join(out, "qq.npy"), q)
    np.save(os.path.join(out, "qq_int8.npy"), q.view(np.int8))
    np.save(os.path.join(out, "qd.npy"), ((q.astype(np.float32) - 128) * 0.5))

    graph = helper.make_graph(
        [helper.make_node("Dropout", ["x", "r", "t"], ["y", "mask"], name="drop")],
        "dropout",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("r", TensorProto.FLOAT, []),
         helper.make_tensor_value_info("t", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("mask", TensorProto.BOOL, [2, 3])])
    save(graph, out, "dropout.onnx")
    np.save(os.path.join(out, "dx.npy"), np.arange(6, dtype=np.float32).reshape(2, 3))
    np.save(os.path.join(out, "dmask.npy"), np.ones((2, 3), bool))
    for name, value in (("r0", 0.0), ("r5", 0.5)):
        np.save(os.path.join(out, name + ".npy"), np.array(value, np.float32))
    for name, value in (("t0", False), ("t1", True)):
        np.save(os.path.join(out, name + ".npy"), np.array(value))


def save(graph, out, name):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, name))


def python(out):
    import slm
    failures = 0

    def check(what, ok):
        nonlocal failures
        print(f"{what}: {'ok' if ok else 'FAILED'}")
        failures += not ok

    model = slm.load(os.path.join(out, "gather.so"))
    ids = np.array([1, 9, -1, 0], np.int64)
    check("python in range", np.array_equal(model.run({"ids": ids})["emb"], TABLE[ids]))
    for bad in ([1, 10, 2], [-11]):
        try:
            model.run({"ids": np.array(bad, np.int64)})
            check("python out of range raises", False)
        except slm.RunTimeCheckError as e:
            print(f"python error: {e}")
            check("python out of range raises", "'embed_lookup' (Gather): index out of range"
                  in str(e) and e.status == 7 and isinstance(e, slm.SlmError))
    # A failed run leaves nothing behind: the next one is correct.
    check("python after a failure", np.array_equal(model.run({"ids": ids})["emb"], TABLE[ids]))

    model = slm.load(os.path.join(out, "quantize.so"))
    check("python uint8 metadata", model.outputs[0].dtype == np.uint8)
    got = model.run({"x": np.load(os.path.join(out, "qx.npy"))})
    q = np.load(os.path.join(out, "qq.npy"))
    check("python uint8 output", got["q"].dtype == np.uint8 and np.array_equal(got["q"], q)
          and int(got["q"].max()) == 255)
    print(f"python q = {got['q'].tolist()}")

    model = slm.load(os.path.join(out, "dropout.so"))
    feeds = {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "r": np.array(0.5, np.float32),
             "t": np.array(False)}
    got = model.run(feeds)
    check("python dropout inference", np.array_equal(got["y"], feeds["x"])
          and got["mask"].dtype == bool and got["mask"].all())
    try:
        model.run(dict(feeds, t=np.array(True)))
        check("python dropout training raises", False)
    except slm.RunTimeCheckError as e:
        check("python dropout training raises", "(Dropout)" in str(e))
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        sys.exit(python(sys.argv[2]))
