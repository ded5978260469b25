"""``python -m llm_rollout.mock``: the same as ``llm-rollout mock-model``."""

from ..cli import main

if __name__ == "__main__":
    import sys

    main(["mock-model", *sys.argv[1:]])
