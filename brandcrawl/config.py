"""Load and validate the watch file: which brands to look for, on which marketplaces, and who is told."""

import difflib
import functools
import hashlib
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from types import MappingProxyType
from typing import Any, NoReturn
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from brandcrawl.assets import canonical_platform

LANGUAGES = ("en", "fr")

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# Stricter than RFC 5322 on purpose: quoted local parts, IP literals and dotless domains are
# legal but in a config file they are almost always typos.
_ADDRESS_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,}}")
_HANDLE_RE = re.compile(r"(?:([A-Za-z0-9_-]+):)?@?([A-Za-z0-9._-]+)")
_DOMAIN_RE = re.compile(r"[\w-]+(?:\.[\w-]+)+")
# Values end up in mail headers and the User-Agent: a line break there is header injection.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")
_TOML_AT_RE = re.compile(r"(?P<msg>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)")
_MISSING_SENDER = "required key is missing (the From address of the digest)"

_Check = Callable[[object, str], Any]


# What the database holds (hits.brand, deliveries.recipient): longer would not fit, so it is refused here.
MAX_BRAND_NAME = 200
MAX_ADDRESS = 320


class WatchFileError(Exception):
    """A watch file that cannot be used; str() is one line naming the file and the key."""

    def __init__(self, path: str, key: str | None, problem: str) -> None:
        # Passing all three to Exception keeps the error picklable (multiprocessing, Scrapy workers).
        super().__init__(path, key, problem)
        self.path = path
        self.key = key
        self.problem = problem

    def __str__(self) -> str:
        if self.key is None:
            return f"{self.path}: {self.problem}"
        return f"{self.path}: {self.key}: {self.problem}"


@dataclass(frozen=True)
class OfficialHandle:
    """An account the brand owns; platform None means the handle is official everywhere."""

    platform: str | None
    handle: str


@dataclass(frozen=True)
class Brand:
    name: str
    aliases: tuple[str, ...] = ()
    official_domains: tuple[str, ...] = ()
    official_handles: tuple[OfficialHandle, ...] = ()
    exclusions: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    common_word: bool = False
    # Words that, beside a common-word brand, make it the brand (besides the built-in commerce words).
    affixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MarketplaceConfig:
    """Per-spider settings; None means the spider's own default."""

    name: str
    enabled: bool = True
    sites: tuple[str, ...] | None = None
    max_pages: int | None = None
    base_url: str | None = None
    # Names of the environment variables holding a login or API key, by role ("username",
    # "password", "client_id", "client_secret"...): the secrets never sit in the watch file.
    credentials_env: Mapping[str, str] = field(default_factory=dict, hash=False)
    # Words searched beside each brand to find accounts sold in disguise ("instagram", "compte"),
    # by site, "*" for every site; None means the spider's own words in each site's language.
    account_words: Mapping[str, tuple[str, ...]] | None = field(default=None, hash=False)
    # What the marketplace files listings under, to read whole (Flippa property types, forum categories).
    categories: tuple[str, ...] | None = None
    # False: read only the categories, no keyword search (a site whose robots.txt forbids its search).
    search: bool = True

    def credentials(self, environ: Mapping[str, str]) -> dict[str, str] | None:
        """The credentials read from the environment, or None when any named variable is unset or empty."""
        if not self.credentials_env:
            return None
        found = {role: environ.get(name, "") for role, name in self.credentials_env.items()}
        return found if all(found.values()) else None

    def missing_credentials(self, environ: Mapping[str, str]) -> list[str]:
        """The named environment variables that are unset or empty."""
        return [name for name in self.credentials_env.values() if not environ.get(name)]


@dataclass(frozen=True)
class SmtpConfig:
    """Where the digest is sent from. The password is read from the environment variable named
    here, never from the watch file."""

    host: str
    port: int | None = None  # default: 465 for security "tls", else 587 ("starttls") or 25 ("none")
    security: str = "starttls"  # starttls | tls | none
    username: str | None = None
    password_env: str | None = None
    ca_file: str | None = None  # a private CA to trust (a company relay, the tests' server)
    timeout: int = 60

    @property
    def effective_port(self) -> int:
        return self.port or {"tls": 465, "starttls": 587}.get(self.security, 25)


@dataclass(frozen=True)
class DigestConfig:
    sender: str
    language: str = "en"
    timezone: str = "UTC"
    out_dir: str = "digest"
    smtp: SmtpConfig | None = None  # none: each recipient's digest is written to out_dir as .eml
    ops: str | None = None  # gets the health problems (blocked or broken marketplaces)
    send_quiet: bool = True  # send the short "all quiet" digest on a day with nothing new


@dataclass(frozen=True)
class CrawlConfig:
    contact: str | None = None
    max_pages: int = 3


@dataclass(frozen=True)
class DispatchConfig:
    """How ``brandcrawl dispatch`` spreads the crawl over Scrapyd nodes (its options win)."""

    nodes: tuple[str, ...] = ()  # the Scrapyd URLs, e.g. "http://crawl-1:6800"
    shard_size: int = 50  # brands searched per job
    version: str | None = None  # the deployed project version; None: the newest on the first node
    jobs_per_node: int = 4  # a node running or waiting with this many jobs (anyone's) gets no more


@dataclass(frozen=True)
class WatchConfig:
    """A validated watch file."""

    path: str
    brands: tuple[Brand, ...]
    marketplaces: Mapping[str, MarketplaceConfig] = field(hash=False)
    digest: DigestConfig
    crawl: CrawlConfig
    dispatch: DispatchConfig = DispatchConfig()

    def __post_init__(self) -> None:
        # A read-only view, so the frozen config cannot be changed behind the crawler's back.
        object.__setattr__(self, "marketplaces", MappingProxyType(dict(self.marketplaces)))

    def __reduce__(self) -> tuple[Any, ...]:
        # mappingproxy cannot be pickled or deep-copied, and Scrapy deep-copies its settings.
        return (
            type(self),
            (self.path, self.brands, dict(self.marketplaces), self.digest, self.crawl, self.dispatch),
        )

    def enabled_marketplaces(self) -> list[MarketplaceConfig]:
        """Marketplaces to crawl, in file order."""
        return [m for m in self.marketplaces.values() if m.enabled]

    def max_pages_for(self, name: str) -> int:
        """Result pages per query for a marketplace: its own max_pages, else crawl.max_pages."""
        market = self.marketplaces.get(name)
        if market is None or market.max_pages is None:
            return self.crawl.max_pages
        return market.max_pages

    def shard(self, index: int, count: int) -> tuple[Brand, ...]:
        """The brands of shard ``index`` (from 1) of ``count``: the file's brands in their order, cut
        into ``count`` runs whose sizes differ by one at most (a spider told "3/20" finds the same
        brands as the dispatcher that cut them)."""
        if not 1 <= index <= count:
            raise ValueError(f"shard {index}/{count}: the index must be from 1 to {count}")
        total = len(self.brands)
        return self.brands[(index - 1) * total // count : index * total // count]


def watch_sha256(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a watch file's bytes: the dispatcher sends its own with every job, and a
    node whose file differs refuses to crawl."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def load_watch(path: str | os.PathLike[str]) -> WatchConfig:
    """Read and validate a watch file; raises WatchFileError."""
    source = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise WatchFileError(source, None, f"cannot read the file ({exc.strerror or exc})") from exc
    try:
        # utf-8-sig: editors on Windows like to prepend a BOM, which tomllib rejects.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problem = f"the file is not UTF-8 text (invalid byte on line {line}); save it as UTF-8"
        raise WatchFileError(source, None, problem) from exc
    return parse_watch(text, source)


def parse_watch(text: str, source: str = "<watch>") -> WatchConfig:
    """Validate watch-file TOML text; source names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WatchFileError(source, None, _toml_problem(str(exc))) from exc
    return _Reader(source).watch(data)


def _toml_problem(message: str) -> str:
    # tomllib puts the position last, "(at line 3, column 7)"; lead with it so it reads like a compiler.
    match = _TOML_AT_RE.fullmatch(message)
    if match is None:
        return f"invalid TOML: {message}"
    where = f"line {match['line']}, column {match['col']}" if match["line"] else "end of file"
    return f"invalid TOML at {where}: {match['msg']}"


def _join(parent: str | None, name: str) -> str:
    # Quote odd keys (TOML allows "a.b" or even "a\nb") so the key path stays unambiguous and on one line.
    part = name if _BARE_KEY_RE.fullmatch(name) else json.dumps(name, ensure_ascii=False)
    return part if parent is None else f"{parent}.{part}"


def _type_name(value: object) -> str:
    names = {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "table"}
    return names.get(type(value), type(value).__name__)


class _Reader:
    """Turns parsed TOML into a WatchConfig, stopping at the first problem.

    Each check takes (value, key) and returns the cleaned value; a table is a dict of checks whose
    keys are the allowed keys, and absent keys take the dataclass defaults.
    """

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str | None, problem: str) -> NoReturn:
        raise WatchFileError(self.source, key, problem)

    def fields(self, value: object, key: str | None, checks: dict[str, _Check], what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, f"expected {what}, got {_type_name(value)}")
        for name in value:
            if name not in checks:
                problem = f"unknown key (allowed: {', '.join(checks)})"
                close = difflib.get_close_matches(name, list(checks), n=1)
                if close:
                    problem += f"; did you mean {close[0]!r}?"
                self.fail(_join(key, name), problem)
        return {name: checks[name](item, _join(key, name)) for name, item in value.items()}

    def string(self, value: object, key: str) -> str:
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {_type_name(value)}")
        if _CONTROL_RE.search(value):
            self.fail(key, f"line breaks and control characters are not allowed: {value!r}")
        if not value.strip():
            self.fail(key, "must not be blank")
        return value.strip()

    def strings(self, value: object, key: str, check: _Check | None = None) -> tuple[Any, ...]:
        if not isinstance(value, list):
            self.fail(key, f"expected a list of strings, got {_type_name(value)}")
        check = check or self.string
        return tuple(check(item, f"{key}[{i}]") for i, item in enumerate(value))

    def boolean(self, value: object, key: str) -> bool:
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {_type_name(value)}")
        return value

    def max_pages(self, value: object, key: str) -> int:
        # bool is an int subclass: `max_pages = true` must not mean one page.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected a whole number >= 1, got {_type_name(value)}")
        if value < 1:
            self.fail(key, f"must be at least 1, got {value}")
        return value

    def address(self, value: object, key: str, *, display_name_ok: bool = False) -> str:
        text = self.string(value, key)
        _name, addr = parseaddr(text)
        # parseaddr quietly returns the first of several addresses: insist it consumed the whole value.
        if not _ADDRESS_RE.fullmatch(addr) or (text != addr and not text.endswith(f"<{addr}>")):
            self.fail(key, f"not a valid e-mail address: {text!r}")
        if text != addr and not display_name_ok:
            self.fail(key, f"write the bare address, without a display name: {addr!r}")
        if len(addr) > MAX_ADDRESS:
            self.fail(key, f"an e-mail address is at most {MAX_ADDRESS} characters, this one {len(addr)}")
        return text

    def domain(self, value: object, key: str) -> str:
        text = self.string(value, key)
        domain = text.lower().removeprefix("www.")
        if not _DOMAIN_RE.fullmatch(domain):
            self.fail(key, f"expected a bare domain such as 'example.com', got {text!r}")
        return domain

    def handle(self, value: object, key: str) -> OfficialHandle:
        text = self.string(value, key)
        match = _HANDLE_RE.fullmatch(text)
        if match is None:
            self.fail(key, f"expected '@handle' or 'platform:@handle', got {text!r}")
        platform = match[1].lower() if match[1] else None
        return OfficialHandle(canonical_platform(platform) if platform else None, match[2].lower())

    def language(self, value: object, key: str) -> str:
        text = self.string(value, key)
        if text not in LANGUAGES:
            self.fail(key, f"expected one of {', '.join(LANGUAGES)}, got {text!r}")
        return text

    def timezone(self, value: object, key: str) -> str:
        text = self.string(value, key)
        try:
            ZoneInfo(text)
        # OSError: on 3.11 a directory name such as "Europe" can escape as IsADirectoryError via tzdata.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            self.fail(key, f"unknown time zone {text!r} (expected an IANA name such as 'Europe/Paris')")
        return text

    def url(self, value: object, key: str) -> str:
        text = self.string(value, key)
        try:
            parts = urlsplit(text)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or " " in text:
            self.fail(key, f"expected an http:// or https:// URL, got {text!r}")
        return text

    def sites(self, value: object, key: str) -> tuple[str, ...]:
        sites = self.strings(value, key)
        if not sites:
            self.fail(key, "list at least one site, or leave the key out for the spider's defaults")
        return sites

    def watch(self, data: dict[str, Any]) -> WatchConfig:
        checks = {
            "digest": self.digest,
            "crawl": self.crawl,
            "marketplaces": self.marketplaces,
            "brands": self.brands,
            "dispatch": self.dispatch,
        }
        found = self.fields(data, None, checks, "a table")
        if "digest" not in found:
            self.fail("digest.sender", _MISSING_SENDER)
        if not found.get("marketplaces"):
            self.fail("marketplaces", "at least one marketplace is required, e.g. [marketplaces.ebay]")
        if not found.get("brands"):
            self.fail("brands", "at least one brand is required ([[brands]] with a name)")
        found.setdefault("crawl", CrawlConfig())
        return WatchConfig(path=self.source, **found)

    def digest(self, value: object, key: str) -> DigestConfig:
        checks = {
            "sender": functools.partial(self.address, display_name_ok=True),
            "language": self.language,
            "timezone": self.timezone,
            "out_dir": self.string,
            "smtp": self.smtp,
            "ops": self.address,
            "send_quiet": self.boolean,
        }
        found = self.fields(value, key, checks, "a table ([digest])")
        if "sender" not in found:
            self.fail(f"{key}.sender", _MISSING_SENDER)
        return DigestConfig(**found)

    def smtp(self, value: object, key: str) -> SmtpConfig:
        checks = {
            "host": self.string,
            "port": self.port,
            "security": self.security,
            "username": self.string,
            "password_env": self.env_name,
            "ca_file": self.string,
            "timeout": self.max_pages,
        }
        found = self.fields(value, key, checks, "a table ([digest.smtp])")
        if "host" not in found:
            self.fail(f"{key}.host", "required key is missing (the SMTP server's name)")
        if "password_env" in found and "username" not in found:
            self.fail(f"{key}.username", "required with password_env (the login name)")
        return SmtpConfig(**found)

    def port(self, value: object, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            self.fail(key, f"expected a port number from 1 to 65535, got {value!r}")
        return value

    def security(self, value: object, key: str) -> str:
        text = self.string(value, key)
        if text not in ("starttls", "tls", "none"):
            self.fail(key, f"expected starttls, tls or none, got {text!r}")
        return text

    def env_name(self, value: object, key: str) -> str:
        text = self.string(value, key)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
            self.fail(key, f"expected the name of an environment variable, got {text!r}")
        return text

    def dispatch(self, value: object, key: str) -> DispatchConfig:
        checks = {
            "nodes": self.nodes,
            "shard_size": self.max_pages,
            "version": self.string,
            "jobs_per_node": self.max_pages,
        }
        return DispatchConfig(**self.fields(value, key, checks, "a table ([dispatch])"))

    def nodes(self, value: object, key: str) -> tuple[str, ...]:
        urls = self.strings(value, key, self.url)
        if not urls:
            self.fail(key, "list at least one Scrapyd URL, or leave the key out")
        seen: dict[str, int] = {}
        for i, url in enumerate(urls):
            earlier = seen.setdefault(url.rstrip("/"), i)
            if earlier != i:
                self.fail(f"{key}[{i}]", f"{url!r} is listed twice, see {key}[{earlier}]")
        return urls

    def crawl(self, value: object, key: str) -> CrawlConfig:
        checks = {"contact": self.string, "max_pages": self.max_pages}
        return CrawlConfig(**self.fields(value, key, checks, "a table ([crawl])"))

    def marketplaces(self, value: object, key: str) -> Mapping[str, MarketplaceConfig]:
        if not isinstance(value, dict):
            self.fail(key, f"expected a table such as [marketplaces.ebay], got {_type_name(value)}")
        return {name: self.marketplace(name, _join(key, name), item) for name, item in value.items()}

    def marketplace(self, name: str, key: str, value: object) -> MarketplaceConfig:
        checks = {
            "enabled": self.boolean,
            "sites": self.sites,
            "max_pages": self.max_pages,
            "base_url": self.url,
            "credentials_env": self.credentials_env,
            "account_words": self.account_words,
            "categories": self.strings,
            "search": self.boolean,
        }
        return MarketplaceConfig(name=name, **self.fields(value, key, checks, f"a table such as [{key}]"))

    def credentials_env(self, value: object, key: str) -> dict[str, str]:
        if not isinstance(value, dict):
            self.fail(
                key, f'expected a table such as {{ username = "FAMESWAP_USER" }}, got {_type_name(value)}'
            )
        return {role: self.env_name(name, _join(key, role)) for role, name in value.items()}

    def account_words(self, value: object, key: str) -> dict[str, tuple[str, ...]]:
        if isinstance(value, list):
            return {"*": self.strings(value, key)}
        if not isinstance(value, dict):
            self.fail(key, f"expected a list of words, or a table of lists by site, got {_type_name(value)}")
        return {site: self.strings(words, _join(key, site)) for site, words in value.items()}

    def brands(self, value: object, key: str) -> tuple[Brand, ...]:
        if not isinstance(value, list):
            self.fail(key, f"expected an array of tables ([[brands]]), got {_type_name(value)}")
        brands = tuple(self.brand(item, f"{key}[{i}]") for i, item in enumerate(value))
        first_index: dict[str, int] = {}
        for i, brand in enumerate(brands):
            earlier = first_index.setdefault(brand.name.casefold(), i)
            if earlier != i:
                self.fail(f"{key}[{i}].name", f"duplicate brand name {brand.name!r}, see {key}[{earlier}]")
        return brands

    def brand_name(self, value: object, key: str) -> str:
        name = self.string(value, key)
        if len(name) > MAX_BRAND_NAME:
            self.fail(
                key,
                f"a brand name is at most {MAX_BRAND_NAME} characters (the database's), this one {len(name)}",
            )
        return name

    def brand(self, value: object, key: str) -> Brand:
        checks = {
            "name": self.brand_name,
            "aliases": self.strings,
            "official_domains": functools.partial(self.strings, check=self.domain),
            "official_handles": functools.partial(self.strings, check=self.handle),
            "exclusions": self.strings,
            "recipients": functools.partial(self.strings, check=self.address),
            "common_word": self.boolean,
            "affixes": self.strings,
        }
        found = self.fields(value, key, checks, "a table ([[brands]])")
        if "name" not in found:
            self.fail(f"{key}.name", "required key is missing")
        return Brand(**found)
