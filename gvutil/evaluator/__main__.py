"""``python -m gvutil.evaluator train|verify`` (see :mod:`gvutil.evaluator`)."""

import sys

from gvutil.evaluator.training import main

sys.exit(main())
