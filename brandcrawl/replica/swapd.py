"""The replica's SWAPD: stock Discourse JSON for ``/search.json``, ``/c/<slug>/<id>.json`` and
``/t/<id>.json``, filled into the real response shapes kept in ``pages/swapd/*.json`` (see
tests/fixtures/swapd/README.md for where each shape comes from)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
import threading
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from lxml import html as lxml_html

from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply, SiteApp
from brandcrawl.replica.templates import matches, template

SEED = Path(__file__).with_name("seed_swapd.toml")
JSON_TYPE = "application/json; charset=utf-8"
_SEARCH = re.compile(r"/search\.json")
_CATEGORY = re.compile(r"/c/(?:[\w-]+/)+(?P<id>\d+)(?:/l/latest)?\.json")
_TOPIC = re.compile(r"/t/(?:[\w-]+/)?(?P<id>\d+)\.json")
# Advanced-search words Discourse reads out of the query ("order:latest", "in:title", "#tag").
_SEARCH_FILTER = re.compile(r"(?:^|\s)(?:[a-z_]+:\S+|#\S+)")
# What a changed API looks like: the same data under other keys.
_RENAMED = {"topic_list": "topics_list", "grouped_search_result": "search_result", "post_stream": "stream"}


@dataclass(frozen=True)
class SeedCategory:
    slug: str
    id: int
    name: str


@dataclass
class SeedTopic:
    """One topic: its first post (``cooked``, Discourse's HTML) is the listing."""

    id: int
    category: str  # a SeedCategory slug
    title: str
    username: str
    created_at: str  # ISO 8601, as Discourse writes it
    cooked: str
    tags: list[str] = field(default_factory=list)
    closed: bool = False
    archived: bool = False
    pinned: bool = False

    @property
    def slug(self) -> str:
        """Discourse's slug: the title's ASCII words joined by dashes ("topic" when none is left)."""
        ascii_title = unicodedata.normalize("NFKD", self.title).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-") or "topic"

    @property
    def text(self) -> str:
        return " ".join(
            lxml_html.fragment_fromstring(self.cooked, create_parent="div").text_content().split()
        )


def load_seed(path: str | Path | None = None) -> tuple[list[SeedCategory], list[SeedTopic]]:
    """Read ``[[category]]`` and ``[[topic]]`` tables from a TOML file; default: the bundled seed."""
    data = tomllib.loads(Path(path or SEED).read_text(encoding="utf-8"))
    return [SeedCategory(**t) for t in data["category"]], [SeedTopic(**t) for t in data["topic"]]


@functools.cache
def _shape(name: str) -> dict[str, Any]:
    return json.loads(template(f"swapd/{name}.json"))


def shape(name: str) -> dict[str, Any]:
    """A fresh copy of one of Discourse's response shapes, to fill in."""
    return copy.deepcopy(_shape(name))


class SwapdApp(SiteApp):
    """SWAPD's Discourse JSON API."""

    name = "swapd"
    sites: ClassVar[tuple[str, ...]] = ("swapd.co",)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        categories, topics = load_seed()
        self._categories = {c.id: c for c in categories}
        self._topics = {t.id: t for t in topics}
        self._lock = threading.Lock()

    def update(self, topic_id: int, **changes: object) -> None:
        """Change fields (title, cooked, tags, closed...) of a topic, e.g. between two crawls."""
        with self._lock:
            self._topics[topic_id] = dataclasses.replace(self._topics[topic_id], **changes)

    def add(self, topic: SeedTopic) -> None:
        with self._lock:
            self._topics[topic.id] = topic

    def remove(self, topic_id: int) -> None:
        with self._lock:
            del self._topics[topic_id]

    def topics(self) -> list[SeedTopic]:
        """Newest first, as Discourse lists them (pinned topics lead a category's first page)."""
        with self._lock:
            found = list(self._topics.values())
        return sorted(found, key=lambda t: (t.pinned, t.created_at), reverse=True)

    def blocked_page(self, request: ReplicaRequest) -> Reply:
        # Cloudflare's managed challenge, as it answers a JSON API it protects.
        return 403, {"cf-mitigated": "challenge", "Server": "cloudflare"}, template("swapd/blocked.html")

    def respond(self, request: ReplicaRequest) -> Reply | None:
        if _SEARCH.fullmatch(request.path):
            page = max(_int(request.arg("page", "1")), 1)
            data = self._search(request.arg("q"), page)
        elif m := _CATEGORY.fullmatch(request.path):
            category = self._categories.get(int(m["id"]))
            if category is None:
                return _not_found()
            data = self._category(category, request.path, max(_int(request.arg("page", "0")), 0))
        elif m := _TOPIC.fullmatch(request.path):
            with self._lock:
                topic = self._topics.get(int(m["id"]))
            if topic is None:
                return _not_found()
            data = self._topic(topic)
        else:
            return None
        if self.replica.layout_changed:
            data = {_RENAMED.get(key, key): value for key, value in data.items()}
        return 200, {"Content-Type": JSON_TYPE}, json.dumps(data, ensure_ascii=False)

    def _search(self, q: str, page: int) -> dict[str, Any]:
        words = _SEARCH_FILTER.sub(" ", q)
        hits = [t for t in self.topics() if not t.pinned and matches(words, f"{t.title} {t.text}")]
        size = self.replica.page_size
        shown = hits[(page - 1) * size : page * size]
        data = shape("search")
        data["posts"] = [self._search_post(topic) for topic in shown]
        data["topics"] = [self._topic_item("search_topic", topic) for topic in shown]
        grouped = data["grouped_search_result"]
        grouped["term"] = q
        grouped["post_ids"] = [topic.id * 10 for topic in shown]
        # Discourse says true when there is a next page, null otherwise.
        grouped["more_full_page_results"] = True if len(hits) > page * size else None
        return data

    def _search_post(self, topic: SeedTopic) -> dict[str, Any]:
        post = shape("search_post")
        post.update(
            id=topic.id * 10,
            name=topic.username,
            username=topic.username,
            avatar_template=post["avatar_template"].replace("{username}", topic.username),
            created_at=topic.created_at,
            blurb=topic.text[:300],
            topic_id=topic.id,
        )
        return post

    def _category(self, category: SeedCategory, path: str, page: int) -> dict[str, Any]:
        listed = [t for t in self.topics() if t.category == category.slug]
        size = self.replica.page_size
        shown = listed[page * size : (page + 1) * size]
        data = shape("category")
        data["users"] = [
            {"id": _user_id(name), "username": name, "name": name, "avatar_template": ""}
            for name in dict.fromkeys(t.username for t in shown)
        ]
        topic_list = data["topic_list"]
        topic_list["per_page"] = size
        topic_list["topics"] = [self._topic_item("topic_list_item", topic) for topic in shown]
        if len(listed) > (page + 1) * size:
            # Discourse links the next page's HTML address, from the site's root.
            topic_list["more_topics_url"] = f"{path.removesuffix('.json')}?page={page + 1}"
        return data

    def _topic_item(self, name: str, topic: SeedTopic) -> dict[str, Any]:
        item = shape(name)
        values = {
            "id": topic.id,
            "title": topic.title,
            "fancy_title": topic.title,
            "slug": topic.slug,
            "created_at": topic.created_at,
            "last_posted_at": topic.created_at,
            "bumped_at": topic.created_at,
            "pinned": topic.pinned,
            "closed": topic.closed,
            "archived": topic.archived,
            "tags": list(topic.tags),
            "category_id": self._category_id(topic),
            "excerpt": topic.text[:200],
            "last_poster_username": topic.username,
        }
        item.update({key: value for key, value in values.items() if key in item})
        for poster in item.get("posters", []):
            poster["user_id"] = _user_id(topic.username)
        return item

    def _topic(self, topic: SeedTopic) -> dict[str, Any]:
        data = shape("topic")
        post = shape("post")
        user = {"id": _user_id(topic.username), "username": topic.username, "name": topic.username}
        post.update(
            id=topic.id * 10,
            name=topic.username,
            username=topic.username,
            display_username=topic.username,
            created_at=topic.created_at,
            updated_at=topic.created_at,
            cooked=topic.cooked,
            topic_id=topic.id,
            topic_slug=topic.slug,
            user_id=user["id"],
        )
        data["post_stream"] = {"posts": [post], "stream": [post["id"]]}
        data.update(
            id=topic.id,
            title=topic.title,
            fancy_title=topic.title,
            slug=topic.slug,
            created_at=topic.created_at,
            last_posted_at=topic.created_at,
            closed=topic.closed,
            archived=topic.archived,
            pinned=topic.pinned,
            tags=list(topic.tags),
            category_id=self._category_id(topic),
            user_id=user["id"],
            draft_key=f"topic_{topic.id}",
        )
        details = data["details"]
        details["created_by"] = details["last_poster"] = {**user, "avatar_template": ""}
        details["participants"] = [{**user, "avatar_template": "", "post_count": 1}]
        return data

    def _category_id(self, topic: SeedTopic) -> int:
        return next(c.id for c in self._categories.values() if c.slug == topic.category)


def _not_found() -> Reply:
    body = {"errors": ["The requested URL or resource could not be found."], "error_type": "not_found"}
    return 404, {"Content-Type": JSON_TYPE}, json.dumps(body)


def _user_id(username: str) -> int:
    return sum(ord(c) for c in username)


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0
