"""python -m courtflow.demo"""

import sys

from courtflow.demo.run import main

if __name__ == "__main__":
    sys.exit(main())
