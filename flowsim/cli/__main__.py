"""``python -m flowsim.cli``: the ``flowsim`` command."""

from flowsim.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
