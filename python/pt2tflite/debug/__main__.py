import sys

from pt2tflite.debug.cli import main

sys.exit(main())
