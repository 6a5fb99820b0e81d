"""The shipped policies (``policies/*.yaml``) decide realistic payloads as documented.

Every case goes through the production path: ``load_policies`` -> ``decide`` with a
:class:`~receiver.users.static.StaticDirectory` and fresh memory counters, at a pinned time.
A case names its payload (a file of ``examples/payloads/`` or an inline payload),
the user directory (``examples/users.yaml`` unless it says otherwise), the exact
response JSON, the rule that ended evaluation, the rules that modified the data,
and the shadow rules that matched.

Together the cases must make every shipped rule match at least once, enforced and
shadow alike: adding a rule without a case fails
``test_every_shipped_rule_is_exercised``. The rule table is ``docs/policies.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from receiver.adapters import braincloud
from receiver.cli import main as cli_main
from receiver.compile.tree import Switch
from receiver.counters.memory import MemoryBackend
from receiver.counters.seed import seed_mapping
from receiver.dsl.times import parse_time
from receiver.dsl.values import Timestamp
from receiver.runtime.decide import decide
from receiver.runtime.decision import Decision
from receiver.runtime.evaluator import evaluate
from receiver.runtime.payload import parse_event
from receiver.runtime.policyset import PolicySet, load_policies
from receiver.runtime.trace import Tracer
from receiver.users.static import StaticDirectory

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
EXAMPLES = ROOT / "examples"
PAYLOADS = EXAMPLES / "payloads"
BRAINCLOUD_EXAMPLES = EXAMPLES / "braincloud"
USERS_FILE = EXAMPLES / "users.yaml"
NOW_TEXT = "2026-11-22T12:00:00Z"
NOW = Timestamp(parse_time(NOW_TEXT))
MAX_MESSAGE_CHARS = 200

Users = Mapping[str, Mapping[str, Any]]


@cache
def shipped() -> PolicySet:
    return load_policies([POLICIES])


@cache
def example_users() -> StaticDirectory:
    return StaticDirectory.from_file(USERS_FILE)


@dataclass(frozen=True)
class Case:
    name: str
    payload: str | dict[str, Any]  # a file name in examples/payloads/, or the payload itself
    response: dict[str, Any]  # the exact response JSON
    rule: str | None = None  # the rule that ended evaluation (policy/id), if any
    modified_by: tuple[str, ...] = ()
    shadow: tuple[str, ...] = ()  # shadow rules that matched, in order
    users: Users | None = None  # None: examples/users.yaml
    counters: Mapping[str, Mapping[str, int]] | None = None  # {counter: {key: value before}}

    def load(self) -> dict[str, Any]:
        if isinstance(self.payload, str):
            loaded: dict[str, Any] = json.loads((PAYLOADS / self.payload).read_text("utf-8"))
            return loaded
        return self.payload

    def decide(self, explain: bool = False) -> Decision:
        event = parse_event(self.load())
        directory = example_users() if self.users is None else StaticDirectory(self.users)
        backend = MemoryBackend()  # fresh counters per case, seeded, as `receiver test` does
        seed_mapping(backend, shipped().counters, self.counters or {}, NOW, self.name)
        tracer = Tracer(shipped().traced_tree(event.name)) if explain else None
        decided = decide(
            shipped(), event, NOW, users=directory.get, counters=backend, tracer=tracer
        )
        return decided.decision


def payload(event: str, data: dict[str, Any], user: str | None = "member_sam") -> dict[str, Any]:
    actor = {} if user is None else {"_id": user, "userId": user}
    return {"eventName": event, "data": data, "actor": actor}


def deny(message: str) -> dict[str, Any]:
    return {"action": "deny", "message": message}


ALLOW: dict[str, Any] = {"action": "allow"}


def envelope(source: str | dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A brainCloud bridge envelope: a file of ``examples/braincloud/`` or inline, changed."""
    if isinstance(source, str):
        loaded: dict[str, Any] = json.loads((BRAINCLOUD_EXAMPLES / source).read_text("utf-8"))
        source = loaded
    return {**source, **changes}


def hook(source: str | dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The event a bridge envelope becomes, as a payload (what the service decides)."""
    event = braincloud.parse_envelope(envelope(source, **changes)).event
    return {"eventName": event.name, "data": event.data, "actor": event.actor}


def hook_modified(source: str | dict[str, Any], message: Any) -> dict[str, Any]:
    """The (social.plus-shaped) response when a hook's message became ``message``."""
    return {"action": "allow", "data": {**hook(source)["data"], "message": message}}


STAFF = "staff-bypass/staff-allow"
BANNED = "banned-users/banned-deny"
FLAG_UNKNOWN = "flag-reasons/flag-reason-unknown"
FLAG_MISSING = "flag-reasons/flag-reason-missing"
ADULTS_JOIN = "channel-access/adults-join-needs-age-verification"
STAFF_CHANNELS = "channel-access/staff-channels-staff-only"
ANNOUNCEMENTS = "channel-access/announcements-read-only"
ADULTS_MESSAGES = "channel-access/adults-messages-need-age-verification"
NO_LINKS = "channel-access/no-links-in-newcomer-channels"
BROADCAST = "channel-access/broadcast-create-staff-only"
NAME_NOT_TEXT = "channel-naming/channel-name-not-text"
NAME_LENGTH = "channel-naming/channel-name-length"
NAME_PROFANE = "channel-naming/channel-name-profane"
NAME_RESERVED = "channel-naming/channel-name-reserved"
MESSAGE_LONG = "content-length/message-too-long"
POST_LONG = "content-length/post-too-long"
SHORTENERS = "links/shorteners-from-new-accounts"
INVITES = "links/invite-links-from-new-accounts"
DAY_ONE_LINKS = "links/links-from-brand-new-accounts"
SPAM = "spam/spam-phrases"
SHOUTING = "shouting/shouting-lowercase"
PROFANITY = "profanity/censor-profanity"
PHONES = "privacy/redact-phone-numbers"
POST_DELETE = "post-deletion/post-delete-allowed"
BC_EXTRADATA = "braincloud-event-enrichment/send-event-extradata"
BC_XP_NOT_A_NUMBER = "braincloud-experience/xp-not-a-number"
BC_XP_MULTIPLIER = "braincloud-experience/xp-multiplier"
BC_XP_TOO_HIGH = "braincloud-experience/xp-too-high"
BC_FULL_NAME = "braincloud-entities/contact-full-name"
BC_NOT_FOUND = "braincloud-entities/entity-not-found"

MSG_BANNED = "Your account is suspended, so you can't do this right now."
MSG_FLAG_REASONS = (
    "Please pick a report reason: harassment, spam or scams, violence, self-harm, nudity, "
    "false information, restricted items, community guidelines or other."
)
MSG_ADULTS_JOIN = "This channel is for verified adults. Verify your age in settings to join."
MSG_ADULTS_POST = "Only verified adults can post in this channel. Verify your age in settings."
MSG_SHORTENERS = (
    "New accounts can't share shortened links in their first week. Please post the full link."
)
MSG_INVITES = "New accounts can't share invite links to other chats in their first 30 days."
MSG_SPAM = "This looks like spam, so it wasn't posted. If we got it wrong, please rephrase."
MSG_ENTITY_GONE = "This contact no longer exists. It may have been deleted; reload and try again."
MSG_RESERVED = "Names with words like admin, moderator or official are reserved for the team."

CASES: list[Case] = [
    # -- the example payloads (examples/payloads/*.json) --------------------------------
    Case("plain message", "message-create-plain.json", ALLOW),
    Case(
        "profanity censored in data.data.text",
        "message-create-profanity-v5.json",
        {
            "action": "allow",
            "data": {
                "channelId": "ch_general",
                "messageFeedId": "mf_general",
                "dataType": "text",
                "data": {"text": "The bus is late again, what the ****"},
                "tags": [],
                "mentionedUsers": [],
                "metadata": {},
            },
        },
        modified_by=(PROFANITY,),
    ),
    Case("adults channel is uncensored", "message-create-profanity-adults-channel.json", ALLOW),
    Case("staff may quote spam", "message-create-staff-quotes-spam.json", ALLOW, rule=STAFF),
    Case("suspended member", "message-create-banned.json", deny(MSG_BANNED), rule=BANNED),
    Case(
        "message over 2000 characters",
        "message-create-too-long.json",
        deny("Messages can be up to 2000 characters. Yours has 2222."),
        rule=MESSAGE_LONG,
    ),
    Case(
        "shortened link from a 3-day-old account",
        "message-create-shortener-new-account.json",
        deny(MSG_SHORTENERS),
        rule=SHORTENERS,
    ),
    Case(
        "link from a day-one account (shadow only)",
        "message-create-link-day-one-account.json",
        ALLOW,
        shadow=(DAY_ONE_LINKS,),
    ),
    Case(
        "invite link from a 20-day-old account",
        "message-create-invite-link.json",
        deny(MSG_INVITES),
        rule=INVITES,
    ),
    Case("spam phrase", "message-create-spam.json", deny(MSG_SPAM), rule=SPAM),
    Case(
        "shouting is lowered",
        "message-create-shouting.json",
        {
            "action": "allow",
            "data": {
                "text": "why is nobody answering my question",
                "channelId": "ch_general",
                "attachments": [],
                "metadata": {},
            },
        },
        modified_by=(SHOUTING,),
    ),
    Case(
        "phone number redacted in data.data.text",
        "message-create-phone-number.json",
        {
            "action": "allow",
            "data": {
                "channelId": "ch_general",
                "dataType": "text",
                "data": {
                    "text": "Text me on [phone number removed] after 6 and I'll send the photos"
                },
                "metadata": {},
            },
        },
        modified_by=(PHONES,),
    ),
    Case(
        "members can't post in announcements",
        "message-create-announcements.json",
        deny(
            "Only the team can post in announcements. "
            "Join the conversation in the community channels."
        ),
        rule=ANNOUNCEMENTS,
    ),
    Case(
        "no links in the newcomers channel",
        "message-create-newcomers-link.json",
        deny("Links aren't allowed in this channel."),
        rule=NO_LINKS,
    ),
    Case(
        "unverified member edits a message in an adults channel",
        "message-update-adults-unverified.json",
        deny(MSG_ADULTS_POST),
        rule=ADULTS_MESSAGES,
    ),
    Case("flag with a known reason", "message-flag-known-reason.json", ALLOW),
    Case(
        "flag with an unknown reason",
        "message-flag-unknown-reason.json",
        deny(MSG_FLAG_REASONS),
        rule=FLAG_UNKNOWN,
    ),
    Case("unflag", "message-unflag.json", ALLOW),
    Case("post flag with data.flagReason", "post-flag-flagreason.json", ALLOW),
    Case(
        "post flag without a reason (shadow only)",
        "post-flag-no-reason.json",
        ALLOW,
        shadow=(FLAG_MISSING,),
    ),
    Case(
        "unverified member joins an adults channel",
        "channel-join-adults-unverified.json",
        deny(MSG_ADULTS_JOIN),
        rule=ADULTS_JOIN,
    ),
    Case("verified member joins an adults channel", "channel-join-adults-verified.json", ALLOW),
    Case(
        "member joins the moderators' room",
        "channel-join-staff-room.json",
        deny("This channel is for the moderation team only."),
        rule=STAFF_CHANNELS,
    ),
    Case("anyone may join a broadcast channel", "channel-join-broadcast.json", ALLOW),
    Case("a suspended member may leave a channel", "channel-leave-banned.json", ALLOW),
    Case("channel with a good name", "channel-create-ok.json", ALLOW),
    Case(
        "member creates a broadcast channel",
        "channel-create-broadcast.json",
        deny("Only the team can create broadcast channels."),
        rule=BROADCAST,
    ),
    Case(
        "channel name posing as staff",
        "channel-create-reserved-name.json",
        deny(MSG_RESERVED),
        rule=NAME_RESERVED,
    ),
    Case(
        "channel renamed to two characters",
        "channel-update-short-name.json",
        deny("Channel names need 3 to 64 characters (yours has 2)."),
        rule=NAME_LENGTH,
    ),
    Case("post in a community", "post-create-community.json", ALLOW),
    Case(
        "post over 5000 characters in data.data.text",
        "post-create-too-long.json",
        deny("Posts can be up to 5000 characters. Yours has 5358."),
        rule=POST_LONG,
    ),
    Case(
        "adults community post is uncensored",
        "post-create-profanity-adults-community.json",
        ALLOW,
    ),
    Case("post deletion", "post-delete.json", ALLOW, rule=POST_DELETE),
    # -- edge cases -------------------------------------------------------------------
    Case(
        "a suspended moderator gets no bypass",
        payload("message.shouldCreate", {"text": "hello"}, "banned_mod_max"),
        deny(MSG_BANNED),
        rule=BANNED,
    ),
    Case(
        "a suspended member can't delete posts",
        payload("post.shouldDelete", {"postId": "post_1"}, "banned_bo"),
        deny(MSG_BANNED),
        rule=BANNED,
    ),
    Case(
        "a moderator joins the moderators' room",
        payload("channel.shouldJoin", {"channelId": "ch_mod_room"}, "mod_maya"),
        ALLOW,
        rule=STAFF,
    ),
    Case(
        "an admin creates an official broadcast channel",
        payload(
            "channel.shouldCreate",
            {"channelId": "ch_news", "type": "broadcast", "displayName": "Official News"},
            "admin_ari",
        ),
        ALLOW,
        rule=STAFF,
    ),
    Case(
        "a user without a record can't join an adults channel",
        payload("channel.shouldJoin", {"channelId": "ch_nsfw_art"}, "ghost"),
        deny(MSG_ADULTS_JOIN),
        rule=ADULTS_JOIN,
    ),
    Case(
        "a join with empty data and no actor is allowed",
        payload("channel.shouldJoin", {}, None),
        ALLOW,
        users={},
    ),
    Case(
        "exactly 2000 characters is fine",
        payload("message.shouldCreate", {"text": "a" * 2000, "channelId": "ch_general"}),
        ALLOW,
    ),
    Case(
        "short capitals are not shouting",
        payload("message.shouldCreate", {"text": "OK THANKS", "channelId": "ch_general"}),
        ALLOW,
    ),
    Case(
        "codes with few letters are not shouting",
        payload("message.shouldCreate", {"text": "ISBN 978-3-16-148410-0"}),
        ALLOW,
    ),
    Case(
        "shouting with a link is left alone (lowering would break the link)",
        payload("message.shouldCreate", {"text": "LOOK AT THIS https://example.com/AbC"}),
        ALLOW,
    ),
    Case(
        "profane shouting is lowered, then censored",
        payload("message.shouldCreate", {"text": "WHAT THE HELL IS GOING ON"}),
        {"action": "allow", "data": {"text": "what the **** is going on"}},
        modified_by=(SHOUTING, PROFANITY),
    ),
    Case(
        "text in both places is censored in both",
        payload("message.shouldUpdate", {"text": "oh hell", "data": {"text": "oh hell"}}),
        {"action": "allow", "data": {"text": "oh ****", "data": {"text": "oh ****"}}},
        modified_by=(PROFANITY,),
    ),
    Case(
        "profanity in a regular community post is censored",
        payload("post.shouldCreate", {"text": "this is shit", "communityId": "comm_bakers"}),
        {"action": "allow", "data": {"text": "this is ****", "communityId": "comm_bakers"}},
        modified_by=(PROFANITY,),
    ),
    Case(
        "phone number in an edited post",
        payload("post.shouldUpdate", {"postId": "post_1", "text": "Call (415) 555-0134 today"}),
        {
            "action": "allow",
            "data": {"postId": "post_1", "text": "Call [phone number removed] today"},
        },
        modified_by=(PHONES,),
    ),
    Case(
        "dates and room numbers are not phone numbers",
        payload("message.shouldCreate", {"text": "Meetup moved to 2026-12-05, room 1204"}),
        ALLOW,
    ),
    Case(
        "shortened link in a new account's post",
        payload("post.shouldCreate", {"text": "tinyurl.com/abc", "communityId": "c1"}, "new_nina"),
        deny(MSG_SHORTENERS),
        rule=SHORTENERS,
    ),
    Case(
        "shortened links are fine after the first week",
        payload("message.shouldCreate", {"text": "deal: bit.ly/3xYzAbc"}, "recent_rita"),
        ALLOW,
    ),
    Case(
        "invite links are fine from established accounts",
        payload("message.shouldCreate", {"text": "our server: discord.gg/r4nd0mInv"}),
        ALLOW,
    ),
    Case(
        "a day-one shortened link is denied before the shadow rule is reached",
        payload("message.shouldCreate", {"text": "bit.ly/3xYzAbc"}, "fresh_fred"),
        deny(MSG_SHORTENERS),
        rule=SHORTENERS,
    ),
    Case(
        "profane channel name",
        payload("channel.shouldCreate", {"channelId": "ch_x", "displayName": "shit posting"}),
        deny("Please pick a channel name without offensive words."),
        rule=NAME_PROFANE,
    ),
    Case(
        "channel name over 64 characters (read from data.name)",
        payload("channel.shouldUpdate", {"channelId": "ch_x", "name": "x" * 65}),
        deny("Channel names need 3 to 64 characters (yours has 65)."),
        rule=NAME_LENGTH,
    ),
    Case(
        "a channel name that is not text is refused, not skipped",
        payload("channel.shouldCreate", {"channelId": "ch_x", "displayName": 12345}),
        deny("Channel names must be text."),
        rule=NAME_NOT_TEXT,
    ),
    Case(
        "a flag reason that is not text is an unknown reason",
        payload("message.shouldFlag", {"messageId": "m1", "reason": ["spam"]}),
        deny(MSG_FLAG_REASONS),
        rule=FLAG_UNKNOWN,
    ),
    Case(
        "a conversation channel has no name to check",
        payload("channel.shouldCreate", {"channelId": "ch_dm", "type": "conversation"}),
        ALLOW,
    ),
    Case(
        "flag reason written in snake case",
        payload("post.shouldFlag", {"postId": "post_1", "reason": "HARASSMENT_OR_BULLYING"}),
        ALLOW,
    ),
    Case(
        "an empty flag reason is not a reason",
        payload("message.shouldFlag", {"messageId": "msg_1", "flagReason": ""}),
        deny(MSG_FLAG_REASONS),
        rule=FLAG_UNKNOWN,
    ),
    # -- brainCloud API hooks (examples/braincloud/*.json; answers: test_braincloud_answers) --
    Case(
        "brainCloud sendEvent gets the hook's extradata",
        hook("pre-send-event-extradata.json"),
        hook_modified(
            "pre-send-event-extradata.json",
            {
                "toId": "profile1",
                "eventType": "gift",
                "eventData": {"item": "sword", "source": "season-3"},
            },
        ),
        modified_by=(BC_EXTRADATA,),
    ),
    Case(
        "brainCloud sendEvent without eventData gets extradata alone",
        hook("pre-send-event-extradata.json", message={"toId": "profile1", "eventType": "ping"}),
        hook_modified(
            "pre-send-event-extradata.json",
            {"toId": "profile1", "eventType": "ping", "eventData": {"source": "season-3"}},
        ),
        modified_by=(BC_EXTRADATA,),
    ),
    Case(
        "brainCloud sendEvent hook without extradata changes nothing",
        hook("pre-send-event-extradata.json", parms={}),
        ALLOW,
    ),
    Case(
        "brainCloud XP multiplied",
        hook("pre-set-xp-multiplied.json"),
        hook_modified("pre-set-xp-multiplied.json", {"xp_points": 6000}),
        modified_by=(BC_XP_MULTIPLIER,),
    ),
    Case(
        "brainCloud XP sent as a string is refused (issue 18: it passed as status 200)",
        hook("pre-set-xp-too-high.json", message={"xp_points": "99999"}),
        {"action": "deny", "message": "XP must be a number."},
        rule=BC_XP_NOT_A_NUMBER,
    ),
    Case(
        "brainCloud XP over 10000 after the multiplier",
        hook("pre-set-xp-too-high.json"),
        deny("XP value is too high!"),
        rule=BC_XP_TOO_HIGH,
        modified_by=(BC_XP_MULTIPLIER,),
    ),
    Case(
        "brainCloud XP over 10000 without a multiplier",
        hook("pre-set-xp-too-high.json", message={"xp_points": 10001}, parms={}),
        deny("XP value is too high!"),
        rule=BC_XP_TOO_HIGH,
    ),
    Case(
        "brainCloud XP of exactly 10000 is allowed",
        hook("pre-set-xp-too-high.json", message={"xp_points": 5000}),
        hook_modified("pre-set-xp-too-high.json", {"xp_points": 10000}),
        modified_by=(BC_XP_MULTIPLIER,),
    ),
    Case(
        "a moderator's brainCloud profile gets no staff bypass",
        hook("pre-set-xp-too-high.json", profileId="mod_maya"),
        deny("XP value is too high!"),
        rule=BC_XP_TOO_HIGH,
        modified_by=(BC_XP_MULTIPLIER,),
    ),
    Case(
        "brainCloud contact read gets a fullName",
        hook("post-entity-read-contact.json"),
        hook_modified(
            "post-entity-read-contact.json",
            {
                **envelope("post-entity-read-contact.json")["message"],
                "data": {"firstName": "Bruce", "lastName": "Wayneo", "fullName": "Bruce Wayneo"},
            },
        ),
        modified_by=(BC_FULL_NAME,),
    ),
    Case(
        "brainCloud entity read of another type is unchanged",
        hook(
            "post-entity-read-contact.json",
            message={"entityId": "e2", "entityType": "inventory", "data": {"slots": 3}},
        ),
        ALLOW,
    ),
    Case(
        "brainCloud update of a missing entity gets a clear error",
        hook("postfail-entity-update-missing.json"),
        deny(MSG_ENTITY_GONE),
        rule=BC_NOT_FOUND,
    ),
    Case(
        "brainCloud update failing for another reason goes through",
        hook(
            "postfail-entity-update-missing.json",
            errorData={"reasonCode": 40344, "errorMessage": "ENTITY_VERSION_MISMATCH"},
        ),
        ALLOW,
    ),
    Case(
        "the eleventh message in a minute is refused",
        payload("message.shouldCreate", {"text": "hi again", "channelId": "ch_general"}),
        deny("You're sending messages too fast. Please wait a minute and try again."),
        rule="rate-limits/message-flood",
        counters={"messages_per_minute": {"member_sam": 10}},
    ),
    Case(
        "the tenth message in a minute goes through",
        payload("message.shouldCreate", {"text": "hi again", "channelId": "ch_general"}),
        ALLOW,
        counters={"messages_per_minute": {"member_sam": 9}},
    ),
    Case(
        "the same text in a fifth channel is refused",
        payload(
            "message.shouldCreate",
            {"text": "Join my server for free skins!!", "channelId": "ch_fifth"},
        ),
        deny("This message was already posted in several channels, so it wasn't posted again."),
        rule="rate-limits/same-text-many-channels",
        counters={"channels_per_text": {"join my server for free skins!!": 4}},
    ),
    Case(
        "a fourth post with a link in an hour is refused",
        payload("post.shouldCreate", {"text": "see bit.ly/x", "communityId": "comm_bakers"}),
        deny("You've shared a lot of links in the last hour. Please wait before sharing more."),
        rule="rate-limits/link-burst",
        counters={"links_per_hour": {"member_sam": 3}},
    ),
    Case(
        "profanity after three strikes is refused instead of censored",
        payload("message.shouldCreate", {"text": "what the fuck", "channelId": "ch_general"}),
        deny(
            "This wasn't posted: you've had several messages removed or censored today. "
            "Please keep it friendly."
        ),
        rule="rate-limits/repeat-offender",
        counters={"strikes": {"member_sam": 3}},
    ),
    Case(
        "profanity after two strikes is still only censored",
        payload("message.shouldCreate", {"text": "what the fuck", "channelId": "ch_general"}),
        {"action": "allow", "data": {"text": "what the ****", "channelId": "ch_general"}},
        modified_by=("profanity/censor-profanity",),
        counters={"strikes": {"member_sam": 2}},
    ),
]


def _ids(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


def test_case_names_are_unique() -> None:
    names = _ids(CASES)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_shipped_policies_decide(case: Case) -> None:
    decision = case.decide()
    assert decision.errors == []
    assert decision.response() == case.response
    assert decision.rule == case.rule
    assert tuple(decision.modified_by) == case.modified_by
    assert tuple(s.rule for s in decision.shadow) == case.shadow
    if decision.action == "deny":
        message = decision.message or ""
        assert 0 < len(message) < MAX_MESSAGE_CHARS
        assert "{" not in message and "}" not in message


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_explained_decision_is_the_same(case: Case) -> None:
    fast, explained = case.decide(), case.decide(explain=True)
    assert explained.response() == fast.response()
    assert explained.rule == fast.rule
    assert explained.modified_by == fast.modified_by
    assert explained.shadow == fast.shadow


def _matched_rules(decision: Decision) -> set[str]:
    matched = {step.rule for step in decision.trace or () if step.outcome == "matched"}
    matched.update(decision.modified_by)
    matched.update(s.rule for s in decision.shadow)
    if decision.rule is not None:
        matched.add(decision.rule)
    return matched


def test_every_shipped_rule_is_exercised() -> None:
    matched: set[str] = set()
    for case in CASES:
        matched |= _matched_rules(case.decide(explain=True))
    rules = {r.qualified_id for r in shipped().rules if r.doc.enabled}
    assert rules - matched == set(), "shipped rules that no case makes match"
    assert matched - rules == set()


def test_every_example_payload_has_a_case() -> None:
    files = {p.name for p in PAYLOADS.glob("*.json")}
    used = {c.payload for c in CASES if isinstance(c.payload, str)}
    assert files, "no example payloads"
    assert files - used == set(), "example payloads without an expected response"
    assert used - files == set(), "cases naming missing example payloads"


@pytest.mark.parametrize("path", sorted(PAYLOADS.glob("*.json")), ids=lambda p: p.name)
def test_example_payload_evaluates_without_errors(path: Path) -> None:
    event = parse_event(json.loads(path.read_text("utf-8")))
    decision = evaluate(shipped().tree(event.name), event, NOW, example_users().get)
    assert decision.errors == []


def test_example_payloads_use_both_text_shapes() -> None:
    shapes = set()
    for path in PAYLOADS.glob("*.json"):
        data = json.loads(path.read_text("utf-8"))["data"]
        if isinstance(data.get("text"), str):
            shapes.add("data.text")
        if isinstance(data.get("data"), dict) and isinstance(data["data"].get("text"), str):
            shapes.add("data.data.text")
    assert shapes == {"data.text", "data.data.text"}


@pytest.mark.parametrize(
    "case", [c for c in CASES if isinstance(c.payload, str)], ids=lambda c: c.name
)
def test_documented_eval_command_answers_the_example(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", str(POLICIES), str(PAYLOADS / str(case.payload))]
    code = cli_main([*argv, "--users", str(USERS_FILE), "--now", NOW_TEXT])
    out = capsys.readouterr().out
    assert code == 0
    assert json.loads(out) == case.response


BRAINCLOUD_ANSWERS: dict[str, Any] = {
    "pre-send-event-extradata.json": {
        "status": 200,
        "messageOverride": {
            "toId": "profile1",
            "eventType": "gift",
            "eventData": {"item": "sword", "source": "season-3"},
        },
    },
    "pre-set-xp-multiplied.json": {"status": 200, "messageOverride": {"xp_points": 6000}},
    "pre-set-xp-too-high.json": {
        "status": 500,
        "reasonCode": 50000,
        "errorMessage": "XP value is too high!",
    },
    "post-entity-read-contact.json": {
        "status": 200,
        "data": {
            "entityId": "a186da71-18b5-410d-9afa-779d6610bddd",
            "entityType": "contact",
            "version": 1,
            "data": {"firstName": "Bruce", "lastName": "Wayneo", "fullName": "Bruce Wayneo"},
            "acl": {"other": 0},
            "createdAt": 1467259136127,
            "updatedAt": 1467259136127,
        },
    },
    "postfail-entity-update-missing.json": {
        "status": 404,
        "reasonCode": 40332,
        "errorMessage": MSG_ENTITY_GONE,
    },
}


def test_every_braincloud_example_has_an_answer() -> None:
    files = {p.name for p in BRAINCLOUD_EXAMPLES.glob("*.json")}
    assert files == set(BRAINCLOUD_ANSWERS)


@pytest.mark.parametrize("name", sorted(BRAINCLOUD_ANSWERS))
def test_braincloud_answers(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``receiver eval`` answers a bridge envelope in brainCloud's own return contract."""
    code = cli_main(["eval", str(POLICIES), str(BRAINCLOUD_EXAMPLES / name), "--now", NOW_TEXT])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == BRAINCLOUD_ANSWERS[name]


def test_example_user_times_load_as_strings() -> None:
    """Unquoted YAML timestamps would otherwise arrive as datetime objects."""
    for user_id in ("mod_maya", "new_nina", "fresh_fred"):
        record = example_users().get(user_id)
        assert record is not None
        assert isinstance(record["createdAt"], str)
        assert record["createdAt"].endswith("Z")


def test_check_strict_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["check", "--strict", str(POLICIES)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "0 errors, 0 warnings" in out


def test_every_policy_and_rule_is_described() -> None:
    policyset = shipped()
    assert [p.name for p in policyset.policies if not p.description.strip()] == []
    assert [r.qualified_id for r in policyset.rules if not r.doc.description.strip()] == []


def test_docs_table_lists_every_shipped_rule() -> None:
    docs = (ROOT / "docs" / "policies.md").read_text("utf-8")
    assert [r.qualified_id for r in shipped().rules if f"`{r.qualified_id}`" not in docs] == []


def test_every_deny_rule_has_its_own_message() -> None:
    rules = shipped().rules
    assert [r.qualified_id for r in rules if r.action == "deny" and r.message is None] == []


def test_lists_with_the_same_name_agree_across_policies() -> None:
    """Lists are per policy; shared ones (staff_roles, adults_channels) must not drift."""
    seen: dict[str, tuple[str, tuple[object, ...]]] = {}
    for policy in shipped().policies:
        for name, items in policy.lists.items():
            if name in seen:
                first, first_items = seen[name]
                assert items == first_items, f"list {name}: {policy.name} differs from {first}"
            else:
                seen[name] = (policy.name, items)


@pytest.mark.parametrize(
    "event", ["message.shouldCreate", "message.shouldUpdate", "channel.shouldJoin"]
)
def test_channel_rules_are_an_indexed_switch(event: str) -> None:
    steps = shipped().tree(event).steps
    switches = [s for s in steps if isinstance(s, Switch)]
    assert [s.field for s in switches] == ["data.channelId"]
    assert len(switches[0].rules) >= 2
