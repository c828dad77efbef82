"""Allow `python -m wdh_cli`."""

from wdh_cli.cli.app import main

main()
