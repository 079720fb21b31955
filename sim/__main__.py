"""`python -m sim` is the `retention-lab` command."""

from sim.cli import main

main()
