import copy
import pickle
from pathlib import Path

import pytest

from brandcrawl.config import (
    Brand,
    CrawlConfig,
    DigestConfig,
    DispatchConfig,
    MarketplaceConfig,
    OfficialHandle,
    WatchConfig,
    WatchFileError,
    load_watch,
    parse_watch,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "watch.example.toml"

DIGEST = '[digest]\nsender = "watch@example.org"\n'
MARKETS = "[marketplaces.ebay]\n"
BRAND = '[[brands]]\nname = "Gallimard"\n'

FULL = """\
[digest]
sender = "Brand watch <watch@example.org>"
language = "fr"
timezone = "Europe/Paris"
out_dir = "out/digest"

[crawl]
contact = "mailto:brand-team@example.org"
max_pages = 5

[marketplaces.ebay]
enabled = true
sites = ["ebay.com", "ebay.fr", " ebay.de ", "ebay.co.uk"]
max_pages = 2
base_url = "https://mirror.example"

[marketplaces.leboncoin]
enabled = false

[[brands]]
name = "  Gallimard "
aliases = ["Éditions Gallimard"]
official_domains = ["WWW.Gallimard.fr", "folio-lesite.fr"]
official_handles = [
    "x:@Gallimard", "Twitter:@GallimardPresse", "@editions_gallimard", "instagram:folio.officiel",
]
exclusions = ["la pléiade"]
recipients = ["veille@gallimard.fr", "juridique@gallimard.fr"]
common_word = false

[[brands]]
name = "Folio"
common_word = true
"""


def watch_text(top="", digest=DIGEST, crawl="", markets=MARKETS, brands=BRAND):
    """A minimal valid watch file, with one part swapped for a broken one."""
    return "\n".join([top, digest, crawl, markets, brands])


def write(tmp_path, text):
    path = tmp_path / "watch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_file_round_trip(tmp_path):
    path = write(tmp_path, FULL)

    config = load_watch(path)

    assert config == WatchConfig(
        path=str(path),
        brands=(
            Brand(
                name="Gallimard",
                aliases=("Éditions Gallimard",),
                official_domains=("gallimard.fr", "folio-lesite.fr"),
                official_handles=(
                    OfficialHandle("x", "gallimard"),
                    OfficialHandle("x", "gallimardpresse"),
                    OfficialHandle(None, "editions_gallimard"),
                    OfficialHandle("instagram", "folio.officiel"),
                ),
                exclusions=("la pléiade",),
                recipients=("veille@gallimard.fr", "juridique@gallimard.fr"),
                common_word=False,
            ),
            Brand(name="Folio", common_word=True),
        ),
        marketplaces={
            "ebay": MarketplaceConfig(
                name="ebay",
                enabled=True,
                sites=("ebay.com", "ebay.fr", "ebay.de", "ebay.co.uk"),
                max_pages=2,
                base_url="https://mirror.example",
            ),
            "leboncoin": MarketplaceConfig(name="leboncoin", enabled=False),
        },
        digest=DigestConfig(
            sender="Brand watch <watch@example.org>",
            language="fr",
            timezone="Europe/Paris",
            out_dir="out/digest",
        ),
        crawl=CrawlConfig(contact="mailto:brand-team@example.org", max_pages=5),
    )
    assert [m.name for m in config.enabled_marketplaces()] == ["ebay"]
    assert config.max_pages_for("ebay") == 2
    assert config.max_pages_for("leboncoin") == 5


def test_defaults():
    config = parse_watch(watch_text())

    assert config.path == "<watch>"
    assert config.digest == DigestConfig(
        sender="watch@example.org", language="en", timezone="UTC", out_dir="digest"
    )
    assert config.crawl == CrawlConfig(contact=None, max_pages=3)
    assert dict(config.marketplaces) == {
        "ebay": MarketplaceConfig(name="ebay", enabled=True, sites=None, max_pages=None, base_url=None)
    }
    assert config.brands == (
        Brand(
            name="Gallimard",
            aliases=(),
            official_domains=(),
            official_handles=(),
            exclusions=(),
            recipients=(),
            common_word=False,
        ),
    )
    assert config.max_pages_for("ebay") == 3
    assert config.max_pages_for("not-configured") == 3


def test_the_dispatch_table_and_its_defaults():
    given = parse_watch(
        watch_text(
            top='[dispatch]\nnodes = ["http://crawl-1:6800", "https://crawl-2.example/scrapyd/"]\n'
            'shard_size = 20\nversion = "r42"\njobs_per_node = 2\n'
        )
    )

    assert given.dispatch == DispatchConfig(
        nodes=("http://crawl-1:6800", "https://crawl-2.example/scrapyd/"),
        shard_size=20,
        version="r42",
        jobs_per_node=2,
    )
    assert parse_watch(watch_text()).dispatch == DispatchConfig(
        nodes=(), shard_size=50, version=None, jobs_per_node=4
    )
    assert load_watch(EXAMPLE).dispatch.nodes, "the example shows it"


def test_enabled_marketplaces_keep_file_order():
    markets = "[marketplaces.vinted]\n[marketplaces.ebay]\nenabled = false\n[marketplaces.leboncoin]\n"

    config = parse_watch(watch_text(markets=markets))

    assert [m.name for m in config.enabled_marketplaces()] == ["vinted", "leboncoin"]


@pytest.mark.parametrize(
    "sender",
    ["watch@example.org", "Brand watch <watch@example.org>", '"Watch, brands" <watch@example.org>'],
)
def test_sender_forms(sender):
    config = parse_watch(watch_text(digest=f"[digest]\nsender = '{sender}'\n"))

    assert config.digest.sender == sender


def test_config_is_immutable_hashable_and_copyable():
    config = parse_watch(FULL)

    with pytest.raises(TypeError):
        config.marketplaces["ebay"] = MarketplaceConfig(name="ebay")  # type: ignore[index]
    assert hash(config) == hash(copy.deepcopy(config))
    # Scrapy deep-copies settings, and workers may pickle the config.
    assert copy.deepcopy(config) == config
    assert pickle.loads(pickle.dumps(config)) == config


def test_marketplace_credentials_account_words_and_categories(monkeypatch):
    config = parse_watch(
        watch_text(
            markets=MARKETS
            + 'credentials_env = { client_id = "EBAY_ID", client_secret = "EBAY_SECRET" }\n'
            + 'account_words = ["insta"]\ncategories = ["instagram/12"]\n'
            + '[marketplaces.fameswap]\naccount_words = { "*" = [], "ebay.fr" = ["compte"] }\n'
        )
    )
    ebay, fameswap = config.marketplaces["ebay"], config.marketplaces["fameswap"]
    assert (ebay.account_words, ebay.categories) == ({"*": ("insta",)}, ("instagram/12",))
    assert fameswap.account_words == {"*": (), "ebay.fr": ("compte",)}
    assert ebay.credentials({"EBAY_ID": "id"}) is None, "one of the two is missing"
    assert ebay.missing_credentials({"EBAY_ID": "id", "EBAY_SECRET": ""}) == ["EBAY_SECRET"]
    assert ebay.credentials({"EBAY_ID": "id", "EBAY_SECRET": "s"}) == {
        "client_id": "id",
        "client_secret": "s",
    }


def test_example_file_loads():
    config = load_watch(EXAMPLE)

    gallimard, folio = config.brands
    assert gallimard.name == "Gallimard"
    assert gallimard.official_domains == ("gallimard.fr",)
    assert len(gallimard.recipients) == 2
    assert gallimard.exclusions
    assert gallimard.official_handles
    assert (folio.name, folio.common_word) == ("Folio", True)
    ebay = config.marketplaces["ebay"]
    assert ebay.enabled
    assert ebay.sites == ("ebay.com", "ebay.fr", "ebay.de", "ebay.co.uk")
    assert config.max_pages_for("ebay") == 2
    assert (config.digest.language, config.digest.timezone, config.digest.out_dir) == (
        "fr",
        "Europe/Paris",
        "digest",
    )
    assert config.crawl.contact


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "watch.toml"
    path.write_bytes(b"\xef\xbb\xbf" + watch_text().encode())

    assert load_watch(path).brands[0].name == "Gallimard"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"

    with pytest.raises(WatchFileError) as info:
        load_watch(path)

    assert str(info.value) == f"{path}: cannot read the file (No such file or directory)"
    assert info.value.key is None


def test_file_not_utf8(tmp_path):
    path = tmp_path / "watch.toml"
    path.write_bytes(b'[digest]\nsender = "Caf\xe9 <watch@example.org>"\n')

    with pytest.raises(WatchFileError) as info:
        load_watch(path)

    assert info.value.key is None
    assert "not UTF-8" in info.value.problem
    assert "line 2" in info.value.problem


def test_unknown_key_suggests_the_closest_one():
    with pytest.raises(WatchFileError) as info:
        parse_watch(BRAND + "recipent = []\n" + DIGEST + MARKETS, "watch.toml")

    assert str(info.value) == (
        "watch.toml: brands[0].recipent: unknown key (allowed: name, aliases, official_domains,"
        " official_handles, exclusions, recipients, common_word, affixes); did you mean 'recipients'?"
    )


def market_with(line):
    return watch_text(markets=MARKETS + line + "\n")


def brand_with(line):
    return watch_text(brands=BRAND + line + "\n")


def digest_with(line):
    return watch_text(digest=DIGEST + line + "\n")


def crawl_with(line):
    return watch_text(crawl="[crawl]\n" + line + "\n")


BAD = [
    # (id, text, key, fragment of the problem)
    ("toml-syntax", "a = 1\nb c = 2\n", None, "invalid TOML at line 2, column 3: Expected '='"),
    ("toml-unterminated", 'a = "x', None, "invalid TOML at end of file: Unterminated string"),
    ("unknown-top-key", watch_text(top="brand = 1"), "brand", "unknown key (allowed: digest, crawl"),
    ("unknown-brand-key", brand_with("recipent = []"), "brands[0].recipent", "unknown key (allowed: name,"),
    ("unknown-digest-key", digest_with("from = 'x'"), "digest.from", "allowed: sender, language"),
    ("unknown-crawl-key", crawl_with("delay = 1"), "crawl.delay", "allowed: contact, max_pages"),
    ("unknown-market-key", market_with("pages = 1"), "marketplaces.ebay.pages", "allowed: enabled, sites"),
    ("odd-key-quoted", brand_with('"a\\nb" = 1'), 'brands[0]."a\\nb"', "unknown key"),
    (
        "aliases-not-list",
        brand_with("aliases = 3"),
        "brands[0].aliases",
        "expected a list of strings, got int",
    ),
    (
        "alias-not-string",
        brand_with("aliases = ['a', 3]"),
        "brands[0].aliases[1]",
        "expected a string, got int",
    ),
    ("alias-blank", brand_with("aliases = [' ']"), "brands[0].aliases[0]", "must not be blank"),
    (
        "brand-name-too-long",
        watch_text(brands=f"[[brands]]\nname = '{'g' * 201}'\n"),
        "brands[0].name",
        "a brand name is at most 200 characters",
    ),
    (
        "recipient-too-long",
        brand_with(f"recipients = ['{'a' * 310}@example.org']"),
        "brands[0].recipients[0]",
        "an e-mail address is at most 320 characters",
    ),
    ("no-brands", watch_text(brands=""), "brands", "at least one brand is required"),
    ("empty-brands", watch_text(top="brands = []", brands=""), "brands", "at least one brand is required"),
    ("brands-table", watch_text(brands="[brands]\nname = 'x'\n"), "brands", "expected an array of tables"),
    ("brand-not-table", watch_text(top="brands = [1]", brands=""), "brands[0]", "expected a table"),
    (
        "name-missing",
        watch_text(brands="[[brands]]\naliases = []\n"),
        "brands[0].name",
        "required key is missing",
    ),
    ("name-blank", watch_text(brands="[[brands]]\nname = '  '\n"), "brands[0].name", "must not be blank"),
    ("name-not-string", watch_text(brands="[[brands]]\nname = 1\n"), "brands[0].name", "expected a string"),
    (
        "name-duplicate",
        brand_with("[[brands]]\nname = ' GALLIMARD'"),
        "brands[1].name",
        "duplicate brand name",
    ),
    ("recipient-bad", brand_with("recipients = ['veille']"), "brands[0].recipients[0]", "not a valid e-mail"),
    (
        "recipient-no-tld",
        brand_with("recipients = ['a@localhost']"),
        "brands[0].recipients[0]",
        "not a valid",
    ),
    (
        "recipient-two",
        brand_with("recipients = ['a@b.org, c@d.org']"),
        "brands[0].recipients[0]",
        "not a valid",
    ),
    (
        "recipient-display-name",
        brand_with("recipients = ['ok@b.org', 'Veille <v@gallimard.fr>']"),
        "brands[0].recipients[1]",
        "without a display name",
    ),
    (
        "recipient-injection",
        brand_with('recipients = ["a@b.org\\nBcc: evil@example.com"]'),
        "brands[0].recipients[0]",
        "line breaks",
    ),
    ("no-digest", watch_text(digest=""), "digest.sender", "required key is missing"),
    ("sender-missing", watch_text(digest="[digest]\nlanguage = 'fr'\n"), "digest.sender", "required key"),
    ("digest-not-table", watch_text(top="digest = 'x'", digest=""), "digest", "expected a table"),
    (
        "sender-bad",
        watch_text(digest="[digest]\nsender = 'Brand watch'\n"),
        "digest.sender",
        "not a valid e-mail",
    ),
    (
        "sender-injection",
        watch_text(digest='[digest]\nsender = "W <w@example.org>\\r\\nBcc: evil@example.com"\n'),
        "digest.sender",
        "line breaks",
    ),
    ("language", digest_with("language = 'de'"), "digest.language", "expected one of en, fr, got 'de'"),
    ("timezone", digest_with("timezone = 'Europe/Pariss'"), "digest.timezone", "unknown time zone"),
    ("timezone-path", digest_with("timezone = '../etc/passwd'"), "digest.timezone", "unknown time zone"),
    ("out-dir-blank", digest_with("out_dir = ''"), "digest.out_dir", "must not be blank"),
    ("contact-not-string", crawl_with("contact = 3"), "crawl.contact", "expected a string, got int"),
    ("contact-injection", crawl_with('contact = "a\\r\\nX: y"'), "crawl.contact", "line breaks"),
    ("max-pages-zero", crawl_with("max_pages = 0"), "crawl.max_pages", "must be at least 1, got 0"),
    ("max-pages-bool", crawl_with("max_pages = true"), "crawl.max_pages", "got bool"),
    ("max-pages-float", crawl_with("max_pages = 2.5"), "crawl.max_pages", "got float"),
    ("max-pages-string", crawl_with("max_pages = '3'"), "crawl.max_pages", "got string"),
    ("market-max-pages", market_with("max_pages = -1"), "marketplaces.ebay.max_pages", "at least 1"),
    ("base-url-ftp", market_with("base_url = 'ftp://mirror'"), "marketplaces.ebay.base_url", "http://"),
    ("base-url-bare", market_with("base_url = 'mirror.example'"), "marketplaces.ebay.base_url", "https://"),
    ("base-url-no-host", market_with("base_url = 'https://'"), "marketplaces.ebay.base_url", "https://"),
    ("no-marketplaces", watch_text(markets=""), "marketplaces", "at least one marketplace is required"),
    (
        "empty-marketplaces",
        watch_text(markets="[marketplaces]\n"),
        "marketplaces",
        "at least one marketplace",
    ),
    (
        "marketplaces-not-table",
        watch_text(top="marketplaces = 3", markets=""),
        "marketplaces",
        "expected a table",
    ),
    (
        "market-not-table",
        watch_text(markets="[marketplaces]\nebay = true\n"),
        "marketplaces.ebay",
        "expected a table such as [marketplaces.ebay], got bool",
    ),
    (
        "enabled-not-bool",
        market_with("enabled = 'yes'"),
        "marketplaces.ebay.enabled",
        "expected true or false",
    ),
    (
        "sites-not-list",
        market_with("sites = 'ebay.fr'"),
        "marketplaces.ebay.sites",
        "expected a list of strings",
    ),
    ("sites-empty", market_with("sites = []"), "marketplaces.ebay.sites", "at least one site"),
    ("site-blank", market_with("sites = ['']"), "marketplaces.ebay.sites[0]", "must not be blank"),
    (
        "handle-space",
        brand_with("official_handles = ['x:@ Gal']"),
        "brands[0].official_handles[0]",
        "'@handle'",
    ),
    (
        "handle-url",
        brand_with("official_handles = ['x.com/Gal']"),
        "brands[0].official_handles[0]",
        "@handle",
    ),
    (
        "domain-url",
        brand_with("official_domains = ['https://a.fr/']"),
        "brands[0].official_domains[0]",
        "domain",
    ),
    ("common-word", brand_with("common_word = 'yes'"), "brands[0].common_word", "expected true or false"),
    (
        "credentials-secret-itself",
        market_with('credentials_env = { client_id = "abc-123-SECRET" }'),
        "marketplaces.ebay.credentials_env.client_id",
        "name of an environment variable",
    ),
    (
        "credentials-not-a-table",
        market_with('credentials_env = "EBAY_ID"'),
        "marketplaces.ebay.credentials_env",
        "expected a table",
    ),
    (
        "account-words-number",
        market_with("account_words = 3"),
        "marketplaces.ebay.account_words",
        "a list of words, or a table of lists by site",
    ),
    (
        "account-words-site-not-list",
        market_with('account_words = { "ebay.fr" = "compte" }'),
        'marketplaces.ebay.account_words."ebay.fr"',
        "expected a list of strings",
    ),
    ("categories-string", market_with('categories = "instagram"'), "marketplaces.ebay.categories", "list"),
    (
        "dispatch-unknown-key",
        watch_text(top="[dispatch]\nnode = []"),
        "dispatch.node",
        "did you mean 'nodes'?",
    ),
    (
        "dispatch-nodes-string",
        watch_text(top="[dispatch]\nnodes = 'http://a:6800'"),
        "dispatch.nodes",
        "list",
    ),
    ("dispatch-nodes-empty", watch_text(top="[dispatch]\nnodes = []"), "dispatch.nodes", "at least one"),
    (
        "dispatch-node-not-url",
        watch_text(top="[dispatch]\nnodes = ['a:6800']"),
        "dispatch.nodes[0]",
        "http://",
    ),
    (
        "dispatch-node-twice",
        watch_text(top="[dispatch]\nnodes = ['http://a:6800', 'http://a:6800/']"),
        "dispatch.nodes[1]",
        "listed twice, see dispatch.nodes[0]",
    ),
    (
        "dispatch-shard-size-0",
        watch_text(top="[dispatch]\nshard_size = 0"),
        "dispatch.shard_size",
        "at least 1",
    ),
    (
        "dispatch-shard-size-text",
        watch_text(top="[dispatch]\nshard_size = '50'"),
        "dispatch.shard_size",
        ">= 1",
    ),
    (
        "dispatch-jobs-per-node",
        watch_text(top="[dispatch]\njobs_per_node = -1"),
        "dispatch.jobs_per_node",
        "1",
    ),
    (
        "dispatch-version-blank",
        watch_text(top="[dispatch]\nversion = ' '"),
        "dispatch.version",
        "not be blank",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "fragment"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_bad_watch_file(tmp_path, text, key, fragment):
    path = write(tmp_path, text)

    with pytest.raises(WatchFileError) as info:
        load_watch(path)

    err = info.value
    assert (err.path, err.key) == (str(path), key)
    assert fragment in err.problem
    message = str(err)
    assert "\n" not in message
    assert "\r" not in message
    assert message.startswith(f"{path}: ")
    assert message == (f"{path}: {err.problem}" if key is None else f"{path}: {key}: {err.problem}")
