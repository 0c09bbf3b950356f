"""``python -m sync_assets.sandbox``: serve the local Shopify + NetSuite sandbox."""

import sys

from sync_assets.sandbox.server import main

sys.exit(main())
