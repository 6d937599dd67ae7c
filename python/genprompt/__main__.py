"""``python -m genprompt``: the command line."""

from genprompt._cli import main

main()
