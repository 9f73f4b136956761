"""``python -m ips_agents.cli ...``: the same as the ``ips-rl`` command."""

import sys

from ips_agents.cli import main

sys.exit(main())
