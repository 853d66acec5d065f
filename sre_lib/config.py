"""Platform configuration: inventory, key-indicator bands, scaling and backup policy, from one TOML file.

The file is validated into frozen pydantic models. Any problem (TOML syntax, unknown key, wrong type,
bands out of order, a negative count, a size missing from the catalogue) becomes one ``ConfigError`` that
names the file, the key and what was expected.

Which file: an explicit path, else ``$SRE_CONFIG``, else ``data/platform.toml`` in the workbench home, else
the default config shipped with sre_lib (see ``sre_lib.locations``).
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sre_lib.alert_config import AlertSettings, SloObjective
from sre_lib.errors import ConfigError
from sre_lib.locations import home_or_shipped, workbench_home
from sre_lib.secrets import url_expectation, url_location

#: The workbench home as this process started: data/, reports/ and papermill_jobs/ are read against it.
PROJECT_ROOT = workbench_home()
PROMETHEUS_URL_SCHEMES = ("http", "https")
REDIS_URL_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_CONFIG_PATH = home_or_shipped("data/platform.toml", PROJECT_ROOT)
CONFIG_ENV_VAR = "SRE_CONFIG"

Role = Literal["cdn", "proxy", "app", "database", "search", "cache", "volume"]
Status = Literal["healthy", "warning", "critical"]

# Bounds that refuse nonsense (a typo, a unit mistake), not unusual platforms: each is far beyond any real one.
MAX_SERVERS = 10_000
MAX_MONTHLY_PRICE = 10_000_000.0  # per server or service, in the platform's currency
MINUTES_PER_WEEK = 7 * 24 * 60
HOURS_PER_YEAR = 365 * 24

NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Percent = Annotated[float, Field(gt=0, le=100)]  # as people write it: 80.0 for 80 %
MonthlyPrice = Annotated[float, Field(gt=0, le=MAX_MONTHLY_PRICE)]
DiskGb = Annotated[float, Field(gt=0, le=1_000_000)]  # a petabyte
ServerCount = Annotated[int, Field(ge=1, le=MAX_SERVERS)]
SustainedMinutes = Annotated[int, Field(ge=0, le=MINUTES_PER_WEEK)]
Text = Annotated[str, Field(min_length=1, max_length=200)]  # a name or phrase shown in reports
PgName = Annotated[str, Field(min_length=1, max_length=63)]  # PostgreSQL cuts identifiers at 63 bytes
#: Keys of [sizes], [components], [indicators] and [catalogue]: the names rows and reports carry.
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
LABEL_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a Prometheus label name


class _Frozen(BaseModel):
    # allow_inf_nan: TOML has inf and nan; no threshold, price, size or timeout of ours means either
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class PlatformInfo(_Frozen):
    name: Text
    timezone: str = "Australia/Sydney"
    currency: str = "USD"

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError(f"a three-letter currency code such as 'USD' or 'AUD', got {value[:40]!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"an IANA time zone such as 'Australia/Sydney', got {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class ServerSize(_Frozen):
    """One entry of the catalogue of server sizes to run on or resize into."""

    vcpu: Annotated[int, Field(gt=0, le=1024)]
    ram_gb: Annotated[float, Field(gt=0, le=65_536)]  # 64 TB
    disk_gb: DiskGb
    monthly_price: MonthlyPrice


class Component(_Frozen):
    """A part of the platform: ``count`` servers of a catalogue size, or a flat-priced service."""

    role: Role
    count: Annotated[int, Field(ge=0, le=MAX_SERVERS)] = 1  # 0: planned or retired, priced at nothing
    size: str | None = None
    disk_gb: DiskGb | None = None
    monthly_price: MonthlyPrice | None = None
    # a filesystem's mount point: node_exporter disk series at it belong to this component, whatever their job
    mountpoint: Annotated[str, Field(min_length=1, max_length=4096)] | None = None

    @field_validator("mountpoint")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("/") or "\x00" in value or value != value.strip()):
            raise ValueError(f"an absolute mount point such as '/srv/media', got {value[:60]!r}")
        return value.rstrip("/") or "/" if value is not None else None

    @model_validator(mode="after")
    def _priced(self) -> Component:
        if self.size is None and self.monthly_price is None:
            raise ValueError("either `size` (a key of [sizes]) or `monthly_price`")
        return self


class Indicator(_Frozen):
    """Healthy / warning / critical bands of one key indicator."""

    unit: Text  # "percent..." bounds the bands to 0-100, as the forecasts bound the indicator
    warning: NonNegative
    critical: NonNegative
    direction: Literal["above", "below"] = "above"
    sustained_minutes: SustainedMinutes = 0

    @model_validator(mode="after")
    def _ordered(self) -> Indicator:
        if self.unit.startswith("percent") and max(self.warning, self.critical) > 100:
            raise ValueError(
                f"warning and critical from 0 to 100 for a {self.unit!r} indicator, "
                f"got warning {self.warning} and critical {self.critical}"
            )
        if self.direction == "above" and not self.warning < self.critical:
            raise ValueError(f"warning ({self.warning}) below critical ({self.critical}) when higher is worse")
        if self.direction == "below" and not self.warning > self.critical:
            raise ValueError(f"warning ({self.warning}) above critical ({self.critical}) when lower is worse")
        return self


class RedisPolicy(_Frozen):
    memory_percent: Percent = 80.0
    hit_ratio_percent: Percent = 80.0
    evictions_trend_hours: Annotated[int, Field(gt=0, le=HOURS_PER_YEAR)] = 24
    clients_near_limit_percent: Percent = 90.0


class HorizontalScaling(_Frozen):
    component: str = "app"
    cpu_threshold_percent: Percent = 70.0
    scale_in_cpu_threshold_percent: Percent = 35.0
    cooldown_seconds: Annotated[int, Field(ge=0, le=86_400)] = 300
    min_servers: ServerCount = 1
    max_servers: ServerCount = 4

    @model_validator(mode="after")
    def _consistent(self) -> HorizontalScaling:
        if self.min_servers > self.max_servers:
            raise ValueError(f"min_servers ({self.min_servers}) <= max_servers ({self.max_servers})")
        if self.scale_in_cpu_threshold_percent >= self.cpu_threshold_percent:
            raise ValueError(
                f"scale_in_cpu_threshold_percent ({self.scale_in_cpu_threshold_percent}) below "
                f"cpu_threshold_percent ({self.cpu_threshold_percent})"
            )
        return self


class VerticalTrigger(_Frozen):
    trigger: Text
    indicator: str
    above_percent: Percent
    sustained_minutes: SustainedMinutes = 0
    action: Text
    component: str | None = None


class Scaling(_Frozen):
    horizontal: HorizontalScaling = HorizontalScaling()
    vertical: Annotated[tuple[VerticalTrigger, ...], Field(strict=False)] = ()  # TOML arrays are lists


class BackupPolicy(_Frozen):
    wal_archive_interval_minutes: Annotated[int, Field(gt=0, le=24 * 60)] = 5
    full_backup_local_time: str = "03:00"
    offsite_copy_interval_days: Annotated[int, Field(gt=0, le=366)] = 7
    restore_test_interval_days: Annotated[int, Field(gt=0, le=366)] = 30
    retention_days: Annotated[int, Field(gt=0, le=36_600)] = 30  # a century: legal holds run to decades

    @field_validator("full_backup_local_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"a local time of day as 'HH:MM', got {value!r}") from exc
        return value

    @property
    def full_backup_time(self) -> time:
        return time.fromisoformat(self.full_backup_local_time)


class RecoveryObjectives(_Frozen):
    rto_hours: Annotated[float, Field(gt=0, le=HOURS_PER_YEAR)] = 4.0
    rpo_hours: Annotated[float, Field(gt=0, le=HOURS_PER_YEAR)] = 1.0


class PostgresSource(_Frozen):
    """Where the PostgreSQL collector connects. No password here: PGPASSWORD, ~/.pgpass or password_file."""

    server: Text = "postgresql"  # the name rows carry in the warehouse (a key of [components])
    host: Annotated[str, Field(min_length=1, max_length=255)] = "127.0.0.1"  # a DNS name, address or socket dir
    port: Annotated[int, Field(gt=0, lt=65536)] = 5432
    dbname: PgName = "postgres"
    user: PgName = "sre_monitor"
    databases: Annotated[tuple[PgName, ...], Field(strict=False)] = ()  # for table stats; default: dbname
    password_file: str | None = None  # a file outside the repository holding only the password
    connect_timeout_seconds: Annotated[int, Field(gt=0, le=600)] = 10
    statement_timeout_ms: Annotated[int, Field(gt=0, le=3_600_000)] = 5000
    lock_timeout_ms: Annotated[int, Field(gt=0, le=3_600_000)] = 1000
    long_session_seconds: Annotated[float, Field(gt=0, le=7 * 86_400)] = 60.0


class RedisSource(_Frozen):
    """Where the Redis collector connects. A password comes from SRE_REDIS_URL or password_file."""

    server: Text = "redis"
    url: str = "redis://127.0.0.1:6379/0"
    password_file: str | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 5.0


class PrometheusSource(_Frozen):
    """The Prometheus-compatible query API (Prometheus, VictoriaMetrics)."""

    url: str = "http://127.0.0.1:9090"
    max_points_per_request: Annotated[int, Field(gt=0, le=11000)] = 11000
    # samples (points x series) per response: bounds memory when a query returns many series
    max_samples_per_request: Annotated[int, Field(gt=0, le=100_000_000)] = 1_000_000
    # bytes of one response, enforced while reading: a server sending more is refused, not taken into memory
    max_response_bytes: Annotated[int, Field(gt=0, le=16 * 2**30)] = 256 * 2**20
    concurrency: Annotated[int, Field(gt=0, le=32)] = 4
    # one request in all (connecting, waiting, reading the body): a body dribbled byte by byte ends here too
    timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # a failing request is retried (waits of 0.5 s doubling up to 8 s) until this long after its first failure:
    # longer than a routine Prometheus restart
    retry_seconds: Annotated[float, Field(ge=0, le=3600)] = 60.0
    retries: Annotated[int, Field(ge=0, le=20)] | None = None  # at most this many retries; default: retry_seconds
    # every request and retry of one collection: past it the run fails, and the warehouse was never locked
    run_timeout_seconds: Annotated[float, Field(gt=0, le=7 * 24 * 3600)] = 3600.0


class CatalogueEntry(_Frozen):
    """How one warehouse metric is read from Prometheus: a PromQL query and how its labels map to components.

    component: a fixed key of [components]; otherwise the value of ``component_label`` names it.
    """

    query: Annotated[str, Field(min_length=1, max_length=10_000)]
    unit: Annotated[str, Field(max_length=200)] = ""
    component: str | None = None
    component_label: str = "job"
    instance_label: str = "instance"

    @field_validator("component_label", "instance_label")
    @classmethod
    def _label_name(cls, value: str) -> str:
        if not LABEL_PATTERN.fullmatch(value):
            raise ValueError(f"a Prometheus label name such as 'job' (letters, digits, _), got {value[:40]!r}")
        return value


class PgBackRestSource(_Frozen):
    """Where ``sre collect backups`` runs pgBackRest (``info --output=json`` and ``check``) for one stanza.

    Absent from the config: not configured. The backups belong to [sources.postgres].server.
    """

    stanza: PgName
    config: str | None = None  # pgbackrest.conf (--config); default: pgBackRest's own
    restore_log: str | None = None  # the CSV log of restore tests and off-site copies (as `sre backups load --log`)
    # run pgBackRest as its owner, e.g. ["sudo", "-u", "postgres"]
    command_prefix: Annotated[tuple[Annotated[str, Field(min_length=1)], ...], Field(strict=False)] = ()
    binary: Annotated[str, Field(min_length=1)] = "pgbackrest"
    timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 300.0  # each pgbackrest command


class Sources(_Frozen):
    postgres: PostgresSource = PostgresSource()
    redis: RedisSource = RedisSource()
    prometheus: PrometheusSource = PrometheusSource()
    pgbackrest: PgBackRestSource | None = None


class PlatformConfig(_Frozen):
    """The whole platform configuration. ``source`` is the file it came from (for messages)."""

    platform: PlatformInfo
    sizes: dict[str, ServerSize]
    components: dict[str, Component]
    indicators: dict[str, Indicator]
    redis: RedisPolicy = RedisPolicy()
    scaling: Scaling = Scaling()
    backup: BackupPolicy = BackupPolicy()
    recovery: RecoveryObjectives = RecoveryObjectives()
    sources: Sources = Sources()
    catalogue: dict[str, CatalogueEntry] = {}
    slos: dict[str, SloObjective] = {}
    alerts: AlertSettings = AlertSettings()
    source: str = Field(default="<memory>", exclude=True)

    @field_validator("sizes", "components", "indicators", "catalogue", "slos")
    @classmethod
    def _plain_names(cls, table: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        for name in table:
            if not KEY_PATTERN.fullmatch(name):
                raise _KeyProblem(
                    f"{info.field_name}.{name[:40]!r}",
                    "a name of up to 63 letters, digits, '_', '.' or '-', starting with a letter or digit",
                )
        return table

    @model_validator(mode="after")
    def _references(self) -> PlatformConfig:
        for name, component in self.components.items():
            if component.size is not None and component.size not in self.sizes:
                raise _KeyProblem(
                    f"components.{name}.size",
                    f"one of the [sizes] catalogue ({', '.join(sorted(self.sizes))}), got {component.size!r}",
                )
        mounted: dict[str, str] = {}
        for name, component in self.components.items():
            if component.mountpoint is not None:
                if component.mountpoint in mounted:
                    raise _KeyProblem(
                        f"components.{name}.mountpoint",
                        f"a mount point no other component has, got {component.mountpoint!r} "
                        f"(also components.{mounted[component.mountpoint]}.mountpoint)",
                    )
                mounted[component.mountpoint] = name
        for metric, entry in self.catalogue.items():
            if entry.component is not None and entry.component not in self.components:
                raise _KeyProblem(
                    f"catalogue.{metric}.component",
                    f"a key of [components] ({', '.join(sorted(self.components))}), got {entry.component!r}",
                )
        for name, slo in self.slos.items():
            if slo.component not in self.components:
                raise _KeyProblem(
                    f"slos.{name}.component",
                    f"a key of [components] ({', '.join(sorted(self.components))}), got {slo.component!r}",
                )
        for key, url, schemes in (
            ("sources.prometheus.url", self.sources.prometheus.url, PROMETHEUS_URL_SCHEMES),
            ("sources.redis.url", self.sources.redis.url, REDIS_URL_SCHEMES),
        ):
            try:
                url_location(url, key, schemes)
            except ConfigError:  # never shows the URL: it may hold a password
                raise _KeyProblem(key, url_expectation(schemes)) from None
        horizontal = self.scaling.horizontal
        if horizontal.component not in self.components:
            raise _KeyProblem(
                "scaling.horizontal.component",
                f"a key of [components] ({', '.join(sorted(self.components))}), got {horizontal.component!r}",
            )
        for index, trigger in enumerate(self.scaling.vertical):
            if trigger.indicator not in self.indicators:
                raise _KeyProblem(
                    f"scaling.vertical[{index}].indicator",
                    f"a key of [indicators] ({', '.join(sorted(self.indicators))}), got {trigger.indicator!r}",
                )
            if trigger.component is not None and trigger.component not in self.components:
                raise _KeyProblem(
                    f"scaling.vertical[{index}].component",
                    f"a key of [components], got {trigger.component!r}",
                )
        return self

    @cached_property
    def tz(self) -> ZoneInfo:
        return self.platform.tz

    def mountpoint_component(self, mountpoint: str) -> str | None:
        """The component whose volume is mounted at ``mountpoint`` (``[components.X] mountpoint``), or None."""
        path = mountpoint.rstrip("/") or "/"
        return next((name for name, c in self.components.items() if c.mountpoint == path), None)

    def component_size(self, name: str) -> ServerSize | None:
        """The catalogue size a component runs on, or None for flat-priced components."""
        component = self.components[name]
        return self.sizes[component.size] if component.size else None

    def unit_price(self, name: str) -> float:
        """Monthly price of one unit (server) of a component."""
        component = self.components[name]
        if component.monthly_price is not None:
            return component.monthly_price
        size = self.component_size(name)
        assert size is not None  # guaranteed by Component._priced
        return size.monthly_price

    def monthly_cost(self) -> float:
        """What the inventory costs per month as configured."""
        return sum(self.unit_price(name) * c.count for name, c in self.components.items())

    def resize_options(self, name: str) -> list[tuple[str, ServerSize]]:
        """Catalogue sizes strictly bigger than a component's current one (in vCPU or RAM), cheapest first."""
        current = self.component_size(name)
        if current is None:
            return []
        bigger = [
            (key, size)
            for key, size in self.sizes.items()
            if (size.vcpu >= current.vcpu and size.ram_gb >= current.ram_gb)
            and (size.vcpu > current.vcpu or size.ram_gb > current.ram_gb)
        ]
        return sorted(bigger, key=lambda item: (item[1].monthly_price, item[0]))


class _KeyProblem(ValueError):
    """Raised inside cross-field validation to point at a precise key."""

    def __init__(self, key: str, expected: str) -> None:
        super().__init__(expected)
        self.key = key
        self.expected = expected


def config_to_toml(config: PlatformConfig) -> str:
    """The config as TOML text that ``parse_config`` reads back into an equal config."""
    return tomli_w.dumps(config.model_dump(mode="json", exclude_none=True))


def resolve_config_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: the argument, else $SRE_CONFIG, else the shipped default."""
    if path:
        return Path(path)
    env = os.environ.get(CONFIG_ENV_VAR)
    return Path(env) if env else DEFAULT_CONFIG_PATH


def load_config(path: str | os.PathLike[str] | None = None) -> PlatformConfig:
    """Read and validate a platform config; raise ConfigError naming file, key and expectation."""
    config_path = resolve_config_path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: config file not found", source=str(config_path)) from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{config_path}: not UTF-8 text: expected a TOML platform config", source=str(config_path)
        ) from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read config file ({exc.strerror})", source=str(config_path)) from None
    return parse_config(text, source=str(config_path))


def parse_config(text: str, source: str = "<string>") -> PlatformConfig:
    """Validate TOML text into a PlatformConfig; ``source`` names it in errors."""
    raw = parse_toml(text, source)
    try:
        return PlatformConfig.model_validate({**raw, "source": source})
    except ValidationError as exc:
        raise ConfigError(
            describe_validation_error(exc, source), source=source, key=validation_error_key(exc)
        ) from None


#: Deepest nesting of tables, arrays and inline tables a config or job file may have. Ours need 4; the limit
#: keeps a file of a few hundred brackets from reaching tomllib's recursion (a RecursionError traceback).
MAX_TOML_DEPTH = 16


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """TOML text as a dict; ConfigError naming ``source`` for invalid or too deeply nested TOML."""
    depth = _bracket_depth(text)
    if depth > MAX_TOML_DEPTH:
        raise ConfigError(
            f"{source}: nested {depth} levels deep: expected at most {MAX_TOML_DEPTH} levels of tables", source=source
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}", source=source) from None
    except RecursionError:  # a nesting the bracket count could not see (it is an upper bound, not a parser)
        raise ConfigError(
            f"{source}: nested too deeply: expected at most {MAX_TOML_DEPTH} levels", source=source
        ) from None


def _bracket_depth(text: str) -> int:
    """The deepest run of open ``[`` and ``{`` outside strings and comments, counted without parsing."""
    depth = deepest = 0
    quote = ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if text.startswith(quote, index):
                index += len(quote)
                quote = ""
                continue
            if char == "\\" and quote in ('"', '"""'):
                index += 2
                continue
        elif char == "#":
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
            continue
        elif char in "\"'":
            quote = char * 3 if text.startswith(char * 3, index) else char
            index += len(quote)
            continue
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
        index += 1
    return deepest


def describe_validation_error(exc: ValidationError, source: str) -> str:
    """One line for the first problem pydantic found, in the file's own key names."""
    error = exc.errors(include_url=False)[0]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, _KeyProblem):
        return f"{source}: {cause.key}: expected {cause.expected}"
    key = _dotted(error["loc"])
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        message = f"{key}: unknown key (not part of the config schema)"
    elif kind == "missing":
        message = f"{key}: required key is missing"
    elif kind == "value_error":
        detail = str(cause) if cause is not None else error["msg"]
        message = f"{key}: expected {detail}" if key else f"expected {detail}"
    elif kind in ("string_too_short", "string_too_long"):
        limits = error.get("ctx", {})
        if "min_length" in limits:
            bound = "some text" if limits["min_length"] == 1 else f"at least {limits['min_length']} characters"
        else:
            bound = f"at most {limits['max_length']} characters"
        message = f"{key}: expected {bound}, got {_shown(given)}"
    else:
        message = f"{key}: expected {error['msg'].removeprefix('Input should be ').lower()}, got {_shown(given)}"
    others = len(exc.errors()) - 1
    suffix = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
    return f"{source}: {message}{suffix}"


def validation_error_key(exc: ValidationError) -> str | None:
    """The dotted key of the first problem pydantic found (``components.app.count``), or None for the root."""
    error = exc.errors(include_url=False)[0]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, _KeyProblem):
        return cause.key
    return _dotted(error["loc"]) or None


def _shown(value: Any, limit: int = 60) -> str:
    """A refused value as the error line shows it: its repr, cut short so one line stays one line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _dotted(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        elif part not in ("function-after", "function-before"):
            parts.append(str(part))
    return ".".join(parts)
