from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# Shared test helpers (oracle.py, strategies.py) are imported as top-level modules.
sys.path.insert(0, str(Path(__file__).parent))

# Sized for a 2-core CI machine: enough random configurations per catalog entry to find torch's rules,
# no deadline (the first torch call in a process is slow).
settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("default")
