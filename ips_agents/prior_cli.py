"""Former location of :mod:`ips_agents.molecules.prior_cli`, kept so that existing imports keep working.

``import ips_agents.prior_cli`` gives the module :mod:`ips_agents.molecules.prior_cli` itself, and
``python -m ips_agents.prior_cli train ...`` still runs the command.
"""

import sys

from ips_agents.molecules import prior_cli as _module

if __name__ == "__main__":
    raise SystemExit(_module.main())
sys.modules[__name__] = _module
