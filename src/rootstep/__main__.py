from rootstep.cli import main

raise SystemExit(main())
