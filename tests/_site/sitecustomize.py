"""Imported at start-up by every Python process the tests start (``tests/conftest.py`` puts this folder on
``PYTHONPATH``): a subprocess that imports transformers (a generated snippet, ``--via-transformers``) imports
torchvision too, whose PyPI build cannot load its C operators beside the CPU torch of the tests. See
``vision_oracle.keep_torchvision_ops_out``, which the test process itself calls."""

import sys
import types

sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
