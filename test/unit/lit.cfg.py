# -*- Python -*-
# lit configuration of the GoogleTest unit tests.

import os

import lit.formats

config.name = "SLM-Unit"
config.test_format = lit.formats.GoogleTest(".", "Tests")
config.test_source_root = os.path.join(config.slm_obj_root, "test", "unit")
config.test_exec_root = config.test_source_root
