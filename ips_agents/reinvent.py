"""Former location of :mod:`ips_agents.molecules.reinvent`, kept so that existing imports keep working.

``import ips_agents.reinvent`` gives the module :mod:`ips_agents.molecules.reinvent` itself (same objects, so
monkeypatching either name patches both); new code should import from :mod:`ips_agents.molecules`.
"""

import sys

from ips_agents.molecules import reinvent as _module

sys.modules[__name__] = _module
