"""`python -m sim.cli`: the `srdi` command."""

from sim.cli import run

if __name__ == "__main__":
    run()
