from recorder.cli import main

raise SystemExit(main())
