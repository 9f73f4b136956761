"""Former location of :mod:`ips_agents.molecules.metrics`, kept so that existing imports keep working.

``import ips_agents.molecule_metrics`` gives the module :mod:`ips_agents.molecules.metrics` itself (same objects, so
monkeypatching either name patches both); new code should import from :mod:`ips_agents.molecules`.
"""

import sys

from ips_agents.molecules import metrics as _module

sys.modules[__name__] = _module
