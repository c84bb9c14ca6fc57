"""The one exception the front door turns into `kcert: error: …` and exit code 2."""


class UsageProblem(Exception):
    """The command line asks for something kcert cannot do; exit 2 with this text."""
