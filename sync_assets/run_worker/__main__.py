from sync_assets.run_worker.server import main

raise SystemExit(main())
