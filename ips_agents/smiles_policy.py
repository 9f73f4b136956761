"""Former location of :mod:`ips_agents.molecules.policy`, kept so that existing imports keep working.

``import ips_agents.smiles_policy`` gives the module :mod:`ips_agents.molecules.policy` itself (same objects, so
monkeypatching either name patches both); new code should import from :mod:`ips_agents.molecules`.
"""

import sys

from ips_agents.molecules import policy as _module

sys.modules[__name__] = _module
