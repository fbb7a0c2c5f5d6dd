from funnelflow.cli import main

raise SystemExit(main())
