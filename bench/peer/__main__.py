import sys

from bench.peer import main

sys.exit(main())
