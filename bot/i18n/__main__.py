"""`python -m bot.i18n compile` (the .mo files) or `python -m bot.i18n check` (completeness)."""

import sys

from bot.i18n.compile import main

sys.exit(main(sys.argv[1:]))
