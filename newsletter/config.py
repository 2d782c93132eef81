"""Configuration: pydantic models and `load_config(path)`.

Every problem in a config file is reported as one line naming the file, the key path
(e.g. `digests[0].schedule`) and what is wrong. Secrets never live in the file: keys ending
in `_env` name the environment variables that hold them.
"""

from __future__ import annotations

import builtins
import ipaddress
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from newsletter.core.errors import ConfigError
from newsletter.core.keys import list_names
from newsletter.core.schedules import Schedule, ScheduleSpec, parse_schedule
from newsletter.plugins import UnknownTypeError, publisher_config, source_config
from newsletter.publish.base import ChannelConfig
from newsletter.sources.base import SourceConfig

DEFAULT_CONFIG_PATH = Path("config/newsletter.yaml")
CONFIG_ENV_VAR = "NEWSLETTER_CONFIG"


class Strict(BaseModel):
    """Base for config sections: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class DatabaseConfig(Strict):
    """Where the state store lives: a SQLite file by default, or a URL from an env var."""

    url: str | None = None
    url_env: str | None = None

    @field_validator("url")
    @classmethod
    def _no_credentials_in_file(cls, url: str | None) -> str | None:
        if url and "@" in url.split("://", 1)[-1].split("/", 1)[0]:
            raise ValueError("a URL with credentials must come from an env var (use url_env)")
        return url


class BrandingConfig(Strict):
    """How digests and cards look: the organisation's name, logo, colours and address."""

    organisation: str = "Newsletter"
    name: str | None = None
    logo_url: str | None = None
    logo_alt: str | None = None
    primary_color: str = "#000091"
    accent_color: str = "#e1000f"
    background_color: str = "#f6f6f6"
    text_color: str = "#161616"
    postal_address: str = ""
    contact_line: str = ""
    website_url: str | None = None


class SesConfig(Strict):
    """Amazon SES v2 (`smtp.type: ses`): the region, an endpoint override and the env vars
    holding the access key (never the keys themselves)."""

    region: str | None = None
    endpoint: str | None = None
    access_key_id_env: str = "AWS_ACCESS_KEY_ID"
    secret_access_key_env: str = "AWS_SECRET_ACCESS_KEY"
    session_token_env: str | None = None
    configuration_set: str | None = None


class BrevoConfig(Strict):
    """Brevo's transactional email API (`smtp.type: brevo`): endpoint and the API key's env var."""

    endpoint: str = "https://api.brevo.com/v3"
    api_key_env: str = "BREVO_API_KEY"


class SmtpConfig(Strict):
    """How email leaves: the transport (`type`, default an SMTP server), its security and
    credentials (from env vars); `ses` and `brevo` configure those providers' HTTP APIs. A send
    pauses itself once `max_send_errors` of its messages failed or were deferred in one run, or
    once more than `max_error_rate` of them did after `error_rate_after` were tried."""

    type: str = "smtp"
    host: str = "127.0.0.1"
    port: PositiveInt = 25
    security: Literal["none", "starttls", "tls"] = "none"
    ca_file: Path | None = None
    username: str | None = None
    password_env: str | None = None
    timeout: PositiveFloat = 30.0
    connections: PositiveInt = 4
    processes: PositiveInt | None = None
    rate_per_second: PositiveFloat | None = None
    rate_per_hour: PositiveInt | None = None
    max_attempts: PositiveInt = 5
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_key_file: Path | None = None
    dkim_key_env: str | None = None
    verp: bool = False
    max_send_errors: NonNegativeInt = 0
    max_error_rate: float | None = Field(default=None, gt=0, le=1)
    error_rate_after: PositiveInt = 100
    ses: SesConfig = Field(default_factory=SesConfig)
    brevo: BrevoConfig = Field(default_factory=BrevoConfig)

    @field_validator("type")
    @classmethod
    def _known_transport(cls, name: str) -> str:
        from newsletter.publish.email.base import TRANSPORT_TYPES

        if name not in TRANSPORT_TYPES:
            raise ValueError(f"unknown email transport type {name!r} (valid: {', '.join(sorted(TRANSPORT_TYPES))})")
        return name


class ImapMailboxConfig(Strict):
    """The bounce mailbox read over IMAP (`newsletter bounces fetch`): where it is, who reads it
    (password from an env var), the folder to read and the folder processed reports move to."""

    host: str
    port: PositiveInt | None = None
    security: Literal["none", "starttls", "tls"] = "tls"
    ca_file: Path | None = None
    user: str
    password_env: str = "BOUNCES_IMAP_PASSWORD"
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    schedule: ScheduleSpec | None = None
    timeout: PositiveFloat = 30.0

    @property
    def effective_port(self) -> int:
        """The port given, else 993 for implicit TLS and 143 otherwise."""
        return self.port or (993 if self.security == "tls" else 143)


SNS_HOST_LABEL = "*"  # in a host pattern, stands for exactly one DNS label


class SnsWebhookConfig(Strict):
    """Amazon SES events delivered by SNS to `POST /webhooks/ses`: the topics accepted (a message
    from any other topic is refused, since anyone can sign one with a topic of their own), and
    the hosts signing certificates and subscription confirmations may come from, where `*`
    stands for one DNS label (https only; plain http only from a loopback address)."""

    topic_arns: list[str] = Field(min_length=1)
    certificate_hosts: list[str] = Field(default_factory=lambda: ["sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"],
                                         min_length=1)
    timeout: PositiveFloat = 10.0

    @field_validator("topic_arns")
    @classmethod
    def _sns_arns(cls, arns: list[str]) -> list[str]:
        for arn in arns:
            parts = arn.split(":")
            if len(parts) != 6 or parts[:3] != ["arn", parts[1], "sns"] or not parts[1].startswith("aws") \
                    or not all(parts[3:]):
                raise ValueError(f"{arn!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)")
        return arns

    @field_validator("certificate_hosts")
    @classmethod
    def _host_patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            labels = pattern.lower().split(".")
            well_formed = all(label == SNS_HOST_LABEL or label.replace("-", "").isalnum() for label in labels)
            named = sum(label != SNS_HOST_LABEL for label in labels) >= 2  # never `*.com`
            if not well_formed or not (named or is_loopback(pattern)):
                raise ValueError(f"{pattern!r} is not a host pattern such as sns.*.amazonaws.com")
        return [pattern.lower() for pattern in patterns]


class BrevoWebhookConfig(Strict):
    """Brevo's event webhook at `POST /webhooks/brevo`, authenticated by a shared token (from the
    env var `token_env`) sent as `Authorization: Bearer <token>` or as the basic-auth password."""

    token_env: str = "BREVO_WEBHOOK_TOKEN"


class BouncesConfig(Strict):
    """Bounces and complaints: how many soft bounces (within `soft_window_days`) suppress an
    address, and where reports come from (an IMAP mailbox, SES through SNS, Brevo's webhook)."""

    soft_threshold: PositiveInt = 3
    soft_window_days: PositiveInt = 30
    imap: ImapMailboxConfig | None = None
    sns: SnsWebhookConfig | None = None
    brevo: BrevoWebhookConfig | None = None


class DigestConfig(Strict):
    """One email digest: what it selects, when it goes out and to whom."""

    name: str = Field(min_length=1)
    schedule: ScheduleSpec
    list: str = Field(min_length=1)
    subject: str = "{{ organisation }} : {{ count | plural('nouvelle annonce', 'nouvelles annonces') }}"
    template: str = "email/digest"
    intro: str = ""
    tags: builtins.list[str] = Field(default_factory=builtins.list)
    max_items: PositiveInt = 10
    min_items: NonNegativeInt = 1
    from_address: str = "newsletter@example.org"
    from_name: str | None = None
    reply_to: str | None = None
    require_approval: bool = False
    utm: dict[str, str] = Field(default_factory=dict)
    locale: Literal["fr", "en"] | None = None

    @property
    def minimum_items(self) -> int:
        """How many announcements an issue needs to go out: `min_items`, and never fewer than one."""
        return max(self.min_items, 1)


class UnsubscribeConfig(Strict):
    """How subscribers leave: signed links (secret from an env var) and a mailto address."""

    secret_env: str = "NEWSLETTER_SECRET"
    mailto: str | None = None


class AlertsConfig(Strict):
    """Who hears about job failures, paused channels and sources failing for a day."""

    email: list[str] = Field(default_factory=list)
    webhook_url: str | None = None
    from_address: str = "newsletter@localhost"
    source_failing_hours: PositiveInt = 24


class TrackingConfig(Strict):
    """What the digest measures about its readers: nothing by default. With `clicks`, the links
    of each issue go through first-party redirects on `public_base_url` (`/r/<token>`) that count
    clicks per issue and link; no tracking pixel, no third party, no per-reader record."""

    clicks: bool = False


class SchedulerConfig(Strict):
    """How the daemon runs jobs: catch-up window, runner lease, shutdown."""

    misfire_grace_seconds: PositiveInt = 900
    lease_ttl_seconds: PositiveInt = 30
    stop_timeout_seconds: PositiveFloat = 10.0


class ReviewConfig(Strict):
    """The review web app (`newsletter serve`): where it listens, who may sign in and how hard guessing is.

    Every review page needs a signed-in user (`newsletter users add`) unless `open` is true, which
    `check` and `serve` refuse unless both `public_base_url` and the bind address are loopback.
    `trusted_proxies` are the reverse proxies whose X-Forwarded-For names the client (for the
    per-client sign-in limit).
    """

    host: str = "127.0.0.1"
    port: PositiveInt = 8080
    open: bool = False
    session_secret_env: str = "NEWSLETTER_SESSION_SECRET"
    session_hours: PositiveInt = 12
    login_attempts_per_client: PositiveInt = 10
    login_window_minutes: PositiveInt = 10
    lockout_after: PositiveInt = 5
    lockout_minutes: PositiveInt = 15
    trusted_proxies: list[str] = Field(default_factory=list)


class ListConfig(Strict):
    """How a subscriber list is named on the public pages (subscribe, confirm, unsubscribe)."""

    title: str = Field(min_length=1)


def _every_30_seconds() -> Schedule:
    return parse_schedule({"every": "30s"})


class PublicConfig(Strict):
    """The public subscribe form: how many confirmation mails one address may get and how many
    requests one client (IP address) may make per window, and when queued confirmations leave."""

    confirmations_per_address: PositiveInt = 3
    address_window_hours: PositiveInt = 24
    requests_per_client: PositiveInt = 20
    client_window_minutes: PositiveInt = 10
    confirmation_schedule: ScheduleSpec = Field(default_factory=_every_30_seconds)


class Config(Strict):
    """The whole configuration, with relative paths resolved against the file's folder."""

    timezone: str = "Europe/Paris"
    locale: Literal["fr", "en"] = "fr"
    public_base_url: str = "http://127.0.0.1:8080"
    data_dir: Path = Path("data")
    outbox_dir: Path = Path("outbox")
    templates_dir: Path | None = None
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    branding: BrandingConfig = Field(default_factory=BrandingConfig)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    unsubscribe: UnsubscribeConfig = Field(default_factory=UnsubscribeConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    public: PublicConfig = Field(default_factory=PublicConfig)
    lists: dict[str, ListConfig] = Field(default_factory=dict)
    bounces: BouncesConfig = Field(default_factory=BouncesConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    digests: list[DigestConfig] = Field(default_factory=list)
    channels: list[ChannelConfig] = Field(default_factory=list)
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {name!r}") from None
        return name

    @field_validator("public_base_url")
    @classmethod
    def _absolute_base_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s) URL")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        for section in ("sources", "digests", "channels"):
            names = [item.name for item in getattr(self, section)]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{section}: duplicate name(s) {', '.join(duplicates)}")
        return self

    @model_validator(mode="after")
    def _lists_digests_go_to(self) -> Config:
        offered = self.offered_lists()
        unknown = [name for name in self.lists if name not in offered]
        if unknown:
            raise ValueError(f"lists: no digest goes to {', '.join(unknown)} "
                             f"(digests go to: {', '.join(offered) or 'none'})")
        return self

    def offered_lists(self) -> list[str]:
        """The lists people may subscribe to: every list a digest goes to, in config order."""
        return list(dict.fromkeys(name for digest in self.digests for name in list_names(digest.list)))

    def list_title(self, list_name: str) -> str:
        """The public name of a list: its `lists.<name>.title`, else the sender name of the first
        digest going to it, else the newsletter's name; never the internal key."""
        if list_name in self.lists:
            return self.lists[list_name].title
        digest = next((d for d in self.digests if list_name in list_names(d.list)), None)
        return (digest.from_name if digest else None) or self.branding.name or self.branding.organisation

    @property
    def tz(self) -> ZoneInfo:
        """The configured timezone."""
        return ZoneInfo(self.timezone)

    def resolve(self, path: Path | str) -> Path:
        """A path from the config, made absolute against the config file's folder."""
        path = Path(path).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def database_url(self) -> str:
        """The store URL: from the env var if named, else the file's URL, else SQLite in data_dir."""
        if self.database.url_env:
            url = os.environ.get(self.database.url_env)
            if not url:
                raise ConfigError([f"database.url_env: environment variable {self.database.url_env} is not set"])
            return url
        if self.database.url:
            return _resolve_sqlite_url(self.database.url, self)
        return f"sqlite:///{self.resolve(self.data_dir) / 'newsletter.db'}"

    def find_digest(self, name: str) -> DigestConfig | None:
        """The digest called `name`, or None when there is none."""
        return next((digest for digest in self.digests if digest.name == name), None)

    def digest(self, name: str | None) -> DigestConfig:
        """The digest called `name`, or the first one."""
        if not self.digests:
            raise ConfigError(["digests: no digest is configured"])
        if name is None:
            return self.digests[0]
        if (found := self.find_digest(name)) is not None:
            return found
        valid = ", ".join(d.name for d in self.digests)
        raise ConfigError([f"digests: no digest named {name!r} (configured: {valid})"])


def _resolve_sqlite_url(url: str, config: Config) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(config.resolve(url[len(prefix):]))
    return url


FOLDER_ENV_VARS = {"data_dir": "NEWSLETTER_DATA_DIR", "outbox_dir": "NEWSLETTER_OUTBOX_DIR"}


def default_config_path() -> Path:
    """`$NEWSLETTER_CONFIG`, else `config/newsletter.yaml`."""
    return Path(os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)


def load_config(path: Path | str) -> Config:
    """Read and validate a config file; raise ConfigError with one line per problem."""
    path = Path(path)
    data = {**_read_yaml(path), **_folder_overrides()}
    problems: list[str] = []
    data = _typed_plugins(data, problems)
    try:
        config = Config.model_validate({**data, "base_dir": path.resolve().parent})
    except ValidationError as error:
        failed_items = tuple(problem.split("]", 1)[0] + "]" for problem in problems)
        problems.extend(line for line in _format_errors(error) if not line.startswith(failed_items))
        config = None
    if problems or config is None:
        raise ConfigError([f"{path}: {problem}" for problem in problems])
    return config


def _folder_overrides() -> dict[str, str]:
    """`data_dir` and `outbox_dir` from NEWSLETTER_DATA_DIR / NEWSLETTER_OUTBOX_DIR when set: the
    Docker image points both into its `/data` volume, whatever the mounted config says."""
    return {key: os.environ[name] for key, name in FOLDER_ENV_VARS.items() if os.environ.get(name)}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{path}: cannot read config file ({error.strerror})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError([f"{path}: {where}invalid YAML ({problem})"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of keys"])
    return {key: value for key, value in data.items() if value is not None}


def _typed_plugins(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """Validate each source and channel with its own type's model, keeping key paths."""
    data = dict(data)
    for section, lookup in (("sources", source_config), ("channels", publisher_config)):
        items = data.get(section)
        if not isinstance(items, list):
            continue
        validated: list[Any] = []
        for index, item in enumerate(items):
            validated.append(_validate_plugin(section, index, item, lookup, problems))
        data[section] = validated
    return data


def _validate_plugin(section: str, index: int, item: Any, lookup: Any, problems: list[str]) -> Any:
    where = f"{section}[{index}]"
    if not isinstance(item, dict):
        problems.append(f"{where}: must be a mapping")
        return item
    type_name = item.get("type")
    if not isinstance(type_name, str):
        problems.append(f"{where}.type: field required")
        return item
    try:
        model = lookup(type_name)
    except UnknownTypeError as error:
        problems.append(f"{where}.type: {error}")
        return item
    try:
        return model.model_validate(item)
    except ValidationError as error:
        problems.extend(_format_errors(error, prefix=where))
        return item


def _format_errors(error: ValidationError, prefix: str = "") -> list[str]:
    lines = []
    for problem in error.errors():
        path = prefix
        for part in problem["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part not in ("function-after", "function-before"):
                path += f".{part}" if path else str(part)
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{path or '(top level)'}: {message}")
    return lines


def secret_env_names(config: BaseModel) -> list[str]:
    """Every environment variable the config (or one of its sections) names for a secret (keys ending in `_env`)."""
    names: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, BaseModel):
            for key in type(value).model_fields:
                item = getattr(value, key)
                if key.endswith("_env") and isinstance(item, str):
                    names.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(config)
    return list(dict.fromkeys(names))


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_review_problem(config: Config, bind_host: str | None = None) -> str | None:
    """Why `review.open` cannot be allowed here (a non-loopback public URL or bind address), or None."""
    if not config.review.open:
        return None
    public_host = urlsplit(config.public_base_url).hostname or ""
    bind = bind_host or config.review.host
    if is_loopback(public_host) and is_loopback(bind):
        return None
    return (f"review.open: the review pages would be open to anyone through {config.public_base_url} "
            f"(bound to {bind}); remove review.open and add users with `newsletter users add`")


def optional_secrets(config: Config) -> set[str]:
    """Secret env vars this setup can do without: the review session key (a random one per process
    is used without it, so sessions end at a restart), and the keys of the email providers
    `smtp.type` does not name."""
    optional = {config.review.session_secret_env}
    providers: dict[str, BaseModel] = {"ses": config.smtp.ses, "brevo": config.smtp.brevo}
    for name, section in providers.items():
        if config.smtp.type != name:
            optional.update(secret_env_names(section))
    return optional


def missing_secrets(config: Config) -> list[str]:
    """The named secret env vars that are needed and not set in this environment."""
    optional = optional_secrets(config)
    return [name for name in secret_env_names(config) if name not in optional and not os.environ.get(name)]
