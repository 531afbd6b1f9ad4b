from __future__ import annotations

from cutout_client.cli import main

main()
