"""``python -m edge_deploy`` is the ``edge-deploy`` command."""

import sys

from edge_deploy.cli import main

sys.exit(main())
