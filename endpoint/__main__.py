import sys

from endpoint.jsonlines import main

sys.exit(main())
