"""Error hierarchy: every error the tool reports to a user derives from NewsletterError."""


class NewsletterError(Exception):
    """Base for errors reported to the user as one clear line, without a traceback."""


class ConfigError(NewsletterError):
    """The configuration file is invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class SourceError(NewsletterError):
    """A source could not be read; the other sources carry on."""


class ExtractError(NewsletterError):
    """An input could not be read for extraction."""


class ComposeError(NewsletterError):
    """A template could not be rendered or compiled."""


class StoreError(NewsletterError):
    """The state store is unusable (e.g. out of date schema)."""


class PublishError(NewsletterError):
    """A publisher failed; `retryable` tells the ledger whether to try again later."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable
