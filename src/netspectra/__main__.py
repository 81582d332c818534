"""``python -m netspectra``: the ``netspectra`` command (:mod:`netspectra_entry`)."""

import sys

from netspectra_entry import main

sys.exit(main())
