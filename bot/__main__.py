"""`python -m bot` is the same program as `citebot`."""

from bot.cli import finish, main

finish(main())
