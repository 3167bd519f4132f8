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
config.substitutions.append(("%slm_src_root", config.slm_src_root))

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [config.slm_tools_dir, config.llvm_tools_dir]
tools = ["slm-opt", "slmc"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# GoogleTest unit tests run through lit as one suite.
config.unit_test_dir = os.path.join(config.slm_obj_root, "test", "unit")
