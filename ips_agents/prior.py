"""Former location of :mod:`ips_agents.molecules.prior`, kept so that existing imports keep working.

``import ips_agents.prior`` gives the module :mod:`ips_agents.molecules.prior` itself (same objects, so
monkeypatching either name patches both); new code should import from :mod:`ips_agents.molecules`.
"""

import sys

from ips_agents.molecules import prior as _module

sys.modules[__name__] = _module
