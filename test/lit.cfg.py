# -*- Python -*-
# lit configuration of the slm test suite.

import os

import lit.formats
from lit.llvm import llvm_config

config.name = "SLM"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs", "unit"]

config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.slm_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))

# Fixture scripts use Debian's Python (python3-onnx, python3-torch); a python3
# earlier on PATH may lack them.
python = "/usr/bin/python3"
config.substitutions.append(("%python", python))
config.substitutions.append(("%fixture", python + " " + os.path.join(
    os.path.dirname(__file__), "Import", "ONNX", "Inputs", "make_fixture.py")))

import subprocess


def python_has(module):
    return subprocess.run([python, "-c", "import " + module],
                          capture_output=True).returncode == 0


if python_has("onnx"):
    config.available_features.add("onnx")
if python_has("torch") and python_has("torchvision"):
    config.available_features.add("torch")
# ONNX Runtime lives in the project's virtual environment (install-deps.sh
# --python).
venv_python = os.path.join(config.slm_src_root, ".venv", "bin", "python")
if os.path.exists(venv_python) and subprocess.run(
        [venv_python, "-c", "import onnxruntime"], capture_output=True).returncode == 0:
    config.available_features.add("onnxruntime")
config.substitutions.append(("%ort_python", venv_python))
# PyPI transformers (4.46.x, on Debian's torch 1.13) in the same environment
# (scripts/requirements.txt): the zoo's exports and generation's references.
if "onnxruntime" in config.available_features and subprocess.run(
        [venv_python, "-c", "import onnx, torch, transformers, onnxruntime"],
        capture_output=True).returncode == 0:
    config.available_features.add("transformers")
import shutil
minilm = os.path.join(config.slm_obj_root, "models", "minilm")
if os.path.exists(os.path.join(minilm, "all-MiniLM-L6-v2.onnx")):
    config.available_features.add("minilm")
config.substitutions.append(("%minilm", minilm))
# The real trained models of test/wild/ (from PyPI wheels, about 460 MB):
# opt-in, when SLM_WILD_MODELS names the folder that
# test/wild/fetch_wild_models.sh filled.
wild_models = os.environ.get("SLM_WILD_MODELS", "")
if wild_models and os.path.isdir(wild_models):
    wild_models = os.path.abspath(wild_models)
    config.available_features.add("wild-models")
    config.environment["SLM_WILD_MODELS"] = wild_models
config.substitutions.append(("%wild_models", wild_models or "SLM_WILD_MODELS-is-not-set"))
if shutil.which("valgrind"):
    config.available_features.add("valgrind")
if os.path.isdir("/usr/share/libonnx-testdata/data/node"):
    config.available_features.add("onnx-testdata")
config.substitutions.append(("%slm_src_root", config.slm_src_root))
config.substitutions.append(("%slm_bin", config.slm_tools_dir))
config.substitutions.append(("%slm_lib", os.path.join(config.slm_obj_root, "lib")))

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [config.slm_tools_dir, config.llvm_tools_dir]
tools = ["slm-opt", "slmc", "slm-run", "SLMRuntimeTests"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# GoogleTest unit tests run through lit as one suite.
config.unit_test_dir = os.path.join(config.slm_obj_root, "test", "unit")
