"""`python -m core.api` (`make api`): the API and the loop, no UI."""

from core.api.server import main

if __name__ == "__main__":
    main()
