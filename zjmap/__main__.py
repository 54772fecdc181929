from zjmap.cli import main

raise SystemExit(main())
