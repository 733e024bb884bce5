"""`spotdrain history --html`: one self-contained page per execution, read from real histories.

The histories come from the simulator (the real workflow and handlers on moto), once per module:
each page is parsed back with html.parser and checked for what an operator relies on: the graph
has every state, coloured by what happened to it; the state that failed is marked; the page
fetches nothing and escapes what the execution carried.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from html.parser import HTMLParser
from typing import Any

import pytest

import spotdrain.aws
from spotdrain_cli.engine import Simulation
from spotdrain_cli.history import analyse, read_history
from spotdrain_cli.html_report import render_page
from spotdrain_cli.simulate import event_place
from tests.conftest import REGION, load_event, world

HOSTILE = "</script><img src=x onerror=alert(1)>"
VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "wbr"}
PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "section", "h1", "h2", "h4",
    "div", "span", "dl", "dt", "dd", "strong", "p", "code", "ul", "li", "br", "table", "thead",
    "tbody", "tr", "th", "td", "details", "summary", "pre", "a", "script", "svg", "defs", "marker",
    "path", "g", "rect", "polygon", "text",
}  # fmt: skip


# --- parsing the page back -----------------------------------------------------------------------
@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parts: list[Element | str] = field(default_factory=list)  # children and text, in order

    @property
    def children(self) -> list[Element]:
        return [part for part in self.parts if isinstance(part, Element)]

    def walk(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            yield from child.walk()

    def content(self) -> str:
        return "".join(part if isinstance(part, str) else part.content() for part in self.parts)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class Tree(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {key: value or "" for key, value in attrs})
        self.stack[-1].parts.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].parts.append(Element(tag, {key: value or "" for key, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


@dataclass
class Page:
    html: str
    definition: dict[str, Any]
    analysis: dict[str, Any]

    @cached_property
    def tree(self) -> Element:
        return Tree(self.html).root

    @cached_property
    def elements(self) -> list[Element]:
        return list(self.tree.walk())

    @cached_property
    def nodes(self) -> dict[str, Element]:
        return {e.attrs["data-state"]: e for e in self.elements if e.tag == "g" and "data-state" in e.attrs}

    def result(self, state: str) -> str:
        return self.nodes[state].attrs["data-result"]

    def by_id(self, ident: str) -> Element:
        return next(e for e in self.elements if e.attrs.get("id") == ident)


@dataclass
class Execution:
    arn: str
    definition: dict[str, Any]
    events: list[dict[str, Any]]

    def page(self, events: list[dict[str, Any]] | None = None) -> Page:
        events = self.events if events is None else events
        analysis = analyse(events)
        return Page(render_page(self.arn, self.definition, analysis, events), self.definition, analysis)


# --- real histories, from the simulator ----------------------------------------------------------
@pytest.fixture(scope="module")
def offline() -> Iterator[None]:
    """conftest's fake credentials, for the module-scoped simulations (run before its fixtures)."""
    with pytest.MonkeyPatch.context() as env:
        for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env.delenv(key, raising=False)
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }.items():
            env.setenv(key, value)
        spotdrain.aws.reset_clients()
        yield
        spotdrain.aws.reset_clients()
        spotdrain.aws.start_invocation(None)


def simulate(world_name: str, stopped_reason: str | None = None) -> Execution:
    notice = load_event("spot-interruption-with-eni.json")
    if stopped_reason is not None:
        notice["detail"]["stoppedReason"] = stopped_reason
    region, account, when = event_place(notice)
    with Simulation(world(world_name), region=region, account=account, start=when) as sim:
        arn = sim.start(notice, name=world_name.removesuffix(".yaml"))
        sim.wait(arn)
        sfn = sim.client("stepfunctions")
        events = read_history(sfn, arn)
        definition = json.loads(sfn.describe_state_machine_for_execution(executionArn=arn)["definition"])
    return Execution(arn, definition, events)


@pytest.fixture(scope="module")
def access_denied(offline: None) -> Execution:
    return simulate("access-denied.yaml")


@pytest.fixture(scope="module")
def never_effective(offline: None) -> Execution:
    return simulate("deregister-never-effective.yaml")


@pytest.fixture(scope="module")
def drained(offline: None) -> Execution:
    """default.yaml, drained; the notice's stoppedReason is hostile markup (it reaches the page)."""
    return simulate("default.yaml", stopped_reason=HOSTILE)


@pytest.fixture(scope="module")
def throttled(offline: None) -> Execution:
    return simulate("throttled-deregister.yaml")


@pytest.fixture(scope="module")
def never_drains(offline: None) -> Execution:
    return simulate("never-drains.yaml")


@pytest.fixture(scope="module")
def pages(
    access_denied: Execution,
    never_effective: Execution,
    drained: Execution,
    throttled: Execution,
    never_drains: Execution,
) -> dict[str, Page]:
    running = drained.events[
        : next(i for i, e in enumerate(drained.events) if e["type"] == "WaitStateEntered") + 1
    ]
    return {
        "access-denied": access_denied.page(),
        "never-effective": never_effective.page(),
        "drained": drained.page(),
        "throttled": throttled.page(),
        "never-drains": never_drains.page(),
        "running": drained.page(running),
    }


PAGES = ["access-denied", "never-effective", "drained", "throttled", "never-drains", "running"]


# --- self-contained, well-formed -----------------------------------------------------------------
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


@pytest.mark.parametrize("name", PAGES)
def test_the_page_parses_and_fetches_nothing(pages: dict[str, Page], name: str) -> None:
    page = pages[name]
    tags = {e.tag for e in page.elements} - {"#document"}
    assert tags <= PAGE_TAGS, tags - PAGE_TAGS
    assert {"svg", "table", "details", "style"} <= tags
    for element in page.elements:
        for key, value in element.attrs.items():
            assert not key.startswith("on"), (element.tag, key)
            if key in {"src", "href", "xlink:href", "action", "srcset", "poster", "data"}:
                assert not EXTERNAL.match(value), (element.tag, key, value)
                assert value.startswith("#"), value  # only anchors within the page
        if element.tag == "script":
            assert "src" not in element.attrs
    lowered = page.html.lower()
    for needle in ("@import", "http://", "https://", "<link", "<img", "<iframe", "@font-face"):
        assert needle not in lowered, needle
    assert re.findall(r"url\(\s*[^#\s]", lowered) == []  # only url(#marker) within the page
    csp = next(e for e in page.elements if e.attrs.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp.attrs["content"]
    assert "unsafe-inline" not in csp.attrs["content"]


@pytest.mark.parametrize("name", PAGES)
def test_every_link_in_the_page_lands_somewhere(pages: dict[str, Page], name: str) -> None:
    page = pages[name]
    ids = {e.attrs["id"] for e in page.elements if "id" in e.attrs}
    targets = {e.attrs["href"][1:] for e in page.elements if e.tag == "a" and "href" in e.attrs}
    assert targets
    assert targets <= ids, targets - ids


@pytest.mark.parametrize("name", PAGES)
def test_every_state_of_the_definition_is_a_node_and_start_is_marked(
    pages: dict[str, Page], name: str
) -> None:
    page = pages[name]
    assert set(page.nodes) == set(page.definition["States"])
    assert any("n-terminus" in e.classes() and e.content() == "Start" for e in page.elements)
    for state, node in page.nodes.items():
        assert state in node.content()
        assert page.definition["States"][state]["Type"].upper() in node.content()


# --- coloured by what happened --------------------------------------------------------------------
PATH_TO_DEREGISTER = ["ParseEvent", "RouteEvent", "ResolveTargets", "RouteTargets"]
DRAIN_LOOP = ["RouteDeregistration", "WaitForDrain", "CheckDrain", "RouteDrain"]
DRAIN_LOOP_BUT_CHECK = ["RouteDeregistration", "WaitForDrain", "RouteDrain"]
FAILURE_BRANCH = ["RouteFailure", "ReleaseNoticeClaim"]
EXPECTED = {
    "access-denied": {
        "failed": ["DeregisterTargets"],
        "succeeded": PATH_TO_DEREGISTER,
    },
    "never-effective": {
        "failed": ["CheckDrain"],
        "succeeded": [*PATH_TO_DEREGISTER, "DeregisterTargets", *DRAIN_LOOP_BUT_CHECK, *FAILURE_BRANCH],
        "endfail": ["Failed"],
    },
    "drained": {
        "succeeded": [*PATH_TO_DEREGISTER, "DeregisterTargets", *DRAIN_LOOP, "Drained"],
    },
    "throttled": {
        "succeeded": [*PATH_TO_DEREGISTER, *DRAIN_LOOP, "Drained"],
        "retried": ["DeregisterTargets"],
    },
    "never-drains": {
        "failed": ["CheckDrain"],
        "succeeded": [*PATH_TO_DEREGISTER, "DeregisterTargets", *DRAIN_LOOP_BUT_CHECK, *FAILURE_BRANCH],
        "endfail": ["Failed"],
    },
    "running": {
        "succeeded": [*PATH_TO_DEREGISTER, "DeregisterTargets", "RouteDeregistration"],
        "running": ["WaitForDrain"],
    },
}


@pytest.mark.parametrize("name", PAGES)
def test_each_state_has_the_colour_of_what_happened_to_it(pages: dict[str, Page], name: str) -> None:
    page = pages[name]
    expected = {state: result for result, states in EXPECTED[name].items() for state in states}
    for state in page.definition["States"]:
        assert page.result(state) == expected.get(state, "unreached"), state
        assert f"n-{expected.get(state, 'unreached')}" in page.nodes[state].classes(), state
    reached = {visit["name"] for visit in page.analysis["states"]}
    assert reached == set(expected)  # not reached: exactly the states never entered


@pytest.mark.parametrize("name", PAGES)
def test_only_the_state_the_execution_failed_at_is_marked_failed_here(
    pages: dict[str, Page], name: str
) -> None:
    page = pages[name]
    marked = [state for state, node in page.nodes.items() if "✗ failed here" in node.content()]
    assert marked == ([page.analysis["failed_state"]] if page.analysis["failed_state"] else [])
    assert marked == EXPECTED[name].get("failed", [])
    if marked:
        assert "filter:drop-shadow" in page.html  # and drawn to stand out
        summary = page.by_id("summary").content()
        assert f"Failed at{marked[0]}" in summary


def test_uncaught_failure_is_red_and_links_to_the_failing_visit(pages: dict[str, Page]) -> None:
    page = pages["access-denied"]
    node = page.nodes["DeregisterTargets"]
    assert node.attrs["data-caught"] == "false"
    link = next(e for e in page.elements if e.tag == "a" and node in e.children)
    row = page.by_id(link.attrs["href"][1:])
    assert "DeregisterTargets" in row.content()
    assert "failed" in row.content()
    assert "AwsAccessDenied" in row.content()


def test_a_caught_error_is_orange_and_its_catch_edge_is_the_path_taken(pages: dict[str, Page]) -> None:
    page = pages["never-effective"]
    node = page.nodes["CheckDrain"]
    assert "caught" in node.classes()
    assert node.attrs["data-caught"] == "true"
    assert "✗ failed here · caught" in node.content()
    assert ".n-failed.caught .shape { stroke:var(--orange); }" in page.html
    edges = [e for e in page.elements if e.tag == "path" and "edge" in e.classes()]
    catch = next(e for e in edges if e.attrs.get("data-from") == "CheckDrain" and "e-catch" in e.classes())
    assert catch.attrs["data-to"] == "RouteFailure"
    assert {"e-taken"} <= catch.classes()
    assert catch.attrs["marker-end"] == "url(#arrow-caught)"
    # the failure branch after it is the path taken too, the other Catch edges are not
    taken = {(e.attrs.get("data-from"), e.attrs.get("data-to")) for e in edges if "e-taken" in e.classes()}
    assert {("RouteFailure", "ReleaseNoticeClaim"), ("ReleaseNoticeClaim", "Failed")} <= taken
    assert ("DeregisterTargets", "RouteFailure") not in taken


def test_a_caught_state_that_is_not_where_the_execution_failed_is_orange(never_effective: Execution) -> None:
    # ReleaseNoticeClaim's own Catch (States.ALL) sends it on to Failed: its error is caught, and
    # the execution failed at CheckDrain, not there
    events = []
    for event in never_effective.events:
        events.append(event)
        details = event.get("stateEnteredEventDetails", {})
        if event["type"] == "TaskStateEntered" and details.get("name") == "ReleaseNoticeClaim":
            failed = {"error": "DynamoDB.ConditionalCheckFailedException", "cause": "not held"}
            events.append(
                {
                    "id": 0,
                    "type": "TaskFailed",
                    "timestamp": event["timestamp"],
                    "taskFailedEventDetails": failed,
                }
            )
    page = never_effective.page(events)
    assert page.result("ReleaseNoticeClaim") == "caught"
    assert "n-caught" in page.nodes["ReleaseNoticeClaim"].classes()
    assert "⚠ error caught" in page.nodes["ReleaseNoticeClaim"].content()
    assert page.result("CheckDrain") == "failed"


def test_a_retried_state_has_a_badge_with_its_retries(pages: dict[str, Page]) -> None:
    page = pages["throttled"]
    node = page.nodes["DeregisterTargets"]
    assert (node.attrs["data-result"], node.attrs["data-retries"]) == ("retried", "4")
    assert "↻ 4 retries" in node.content()
    row = next(e for e in page.elements if e.tag == "tr" and e.attrs.get("id", "").startswith("visit-")
               and "DeregisterTargets" in e.content())  # fmt: skip
    assert "5 (↻ 4)" in row.content()
    assert "AwsThrottled ×4" in row.content()
    assert [node for node in pages["drained"].nodes.values() if node.attrs["data-retries"] != "0"] == []


def test_a_state_visited_many_times_is_one_node_with_a_count(pages: dict[str, Page]) -> None:
    page = pages["never-drains"]
    assert page.nodes["CheckDrain"].attrs["data-visits"] == "200"
    assert "200 visits" in page.nodes["CheckDrain"].content()
    assert page.nodes["ParseEvent"].attrs["data-visits"] == "1"
    assert "visits" not in page.nodes["ParseEvent"].content()


def test_a_running_execution_shows_the_running_state(pages: dict[str, Page]) -> None:
    page = pages["running"]
    assert page.analysis["status"] == "RUNNING"
    assert "● running" in page.nodes["WaitForDrain"].content()
    summary = page.by_id("summary").content()
    assert "RUNNING" in summary
    assert "still running" in summary
    assert "running…" in page.by_id("path").content()


# --- the header -----------------------------------------------------------------------------------
def test_the_header_has_the_execution_its_error_and_a_readable_cause(pages: dict[str, Page]) -> None:
    page = pages["access-denied"]
    summary = page.by_id("summary")
    text = summary.content()
    assert page.analysis["error"] == "AwsAccessDenied"
    for expected in (
        "arn:aws:states:us-east-1:111122223333:execution:spotdrain-drain:access-denied",
        "FAILED",
        "AwsAccessDenied",
        "elbv2:DeregisterTargets failed: AccessDenied: User is not authorized",
        "2026-11-20 03:12:45.000 UTC",
        f"History events{page.analysis['history_events']}",
        "Retries0",
        "Redrives0",
    ):
        assert expected in text, expected
    box = next(e for e in summary.walk() if "error-box" in e.classes())
    message = next(e for e in box.children if e.tag == "div")
    assert message.content().startswith("elbv2:DeregisterTargets failed")  # not the Lambda JSON
    full = next(e for e in box.walk() if e.tag == "details")
    assert '"stackTrace"' in full.content()  # the whole cause, on demand
    assert "open" not in full.attrs


def test_the_header_of_a_success_says_where_it_ended_and_how_long_it_took(pages: dict[str, Page]) -> None:
    text = pages["drained"].by_id("summary").content()
    assert "SUCCEEDED" in text
    assert "Ended inDrained" in text
    assert "Duration30.0 s" in text
    assert not [e for e in pages["drained"].elements if "error-box" in e.classes()]


def test_a_redriven_execution_shows_its_runs(access_denied: Execution, drained: Execution) -> None:
    # run 0 failed at DeregisterTargets; a redrive resumed there (the drained history from there on)
    resume = next(
        i
        for i, e in enumerate(drained.events)
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "DeregisterTargets"
    )
    redriven = {
        "id": 0,
        "type": "ExecutionRedriven",
        "timestamp": access_denied.events[-1]["timestamp"] + timedelta(minutes=5),
        "executionRedrivenEventDetails": {"redriveCount": 1},
    }
    events = [
        dict(event, id=number)
        for number, event in enumerate([*access_denied.events, redriven, *drained.events[resume:]], start=1)
    ]
    page = access_denied.page(events)
    assert (page.analysis["status"], page.analysis["redrives"]) == ("SUCCEEDED", 1)
    text = page.by_id("summary").content()
    assert "run 0 failed at DeregisterTargets (AwsAccessDenied)" in text
    assert "redrive 1 succeeded" in text
    assert "Redrives1" in text
    assert page.result("DeregisterTargets") == "succeeded"
    assert "✗ failed in run 0" in page.nodes["DeregisterTargets"].content()
    assert "Redrive 1: resumed at DeregisterTargets" in page.by_id("path").content()
    assert "✗ failed here" not in page.html


# --- path, events, inputs and outputs ------------------------------------------------------------
def test_the_path_lists_each_visit_with_its_input_and_output_on_demand(pages: dict[str, Page]) -> None:
    page = pages["throttled"]
    visits = page.analysis["states"]
    rows = [e for e in page.elements if e.tag == "tr" and e.attrs.get("id", "").startswith("visit-")]
    assert [row.attrs["id"] for row in rows] == [f"visit-{n}" for n in range(1, len(visits) + 1)]
    for row, visit in zip(rows, visits, strict=True):
        cells = [c.content() for c in row.children if c.tag == "td"]
        assert cells[1] == visit["name"]
        assert cells[3] == visit["result"]
    wait = [c.content() for c in rows[[v["name"] for v in visits].index("WaitForDrain")].children]
    assert wait[4].startswith("t+")
    assert wait[5] == "30.0 s"
    ios = [e for e in page.elements if e.tag == "tr" and "io" in e.classes()]
    assert len(ios) == len(visits)
    first = next(e for e in ios[0].walk() if e.tag == "details")
    assert "open" not in first.attrs  # on demand
    blocks = [e.content() for e in first.walk() if e.tag == "pre"]
    assert json.loads(blocks[0]) == visits[0]["input"]
    assert json.loads(blocks[1]) == visits[0]["output"]
    assert '\n  "detail": {' in blocks[0]  # pretty-printed


def test_the_events_table_has_every_event_collapsed(pages: dict[str, Page]) -> None:
    page = pages["access-denied"]
    events = next(e for e in page.by_id("events").walk() if e.tag == "details")
    assert "open" not in events.attrs
    rows = [e for e in events.walk() if e.tag == "tr"][1:]
    assert len(rows) == page.analysis["history_events"] == 20
    cells = [[c.content() for c in row.children if c.tag == "td"] for row in rows]
    assert [int(c[0]) for c in cells] == list(range(1, 21))
    assert cells[0][4] == "ExecutionStarted"
    failed = next(c for c in cells if c[4] == "TaskFailed")
    assert "AwsAccessDenied" in failed[5]
    assert "User is not authorized" in failed[5]
    assert cells[-1][4] == "ExecutionFailed"


def test_a_long_history_page_stays_small_and_usable(pages: dict[str, Page]) -> None:
    page = pages["never-drains"]
    assert page.analysis["history_events"] > 1500
    assert len(page.html.encode("utf-8")) < 3_000_000
    rows = [e for e in page.by_id("events").walk() if e.tag == "tr"][1:]
    assert len(rows) == page.analysis["history_events"]
    visits = [e for e in page.elements if e.tag == "tr" and e.attrs.get("id", "").startswith("visit-")]
    assert len(visits) == len(page.analysis["states"])
    # each value once: a CheckDrain input repeats the output before it
    assert "Same as the output of" in page.html
    # the last visit's input and output are there, whole
    # the visits that went wrong keep their input and output, whole
    failing = [e for e in page.elements if e.tag == "tr" and "io" in e.classes()][-4]
    assert "CheckDrain" in failing.content()
    assert [e for e in failing.walk() if e.tag == "pre"]


def test_a_huge_value_is_cut_with_a_note(drained: Execution) -> None:
    events = [dict(event) for event in drained.events]
    exited = next(i for i, e in enumerate(events) if e["type"] == "TaskStateExited")
    details = dict(events[exited]["stateExitedEventDetails"])
    details["output"] = json.dumps({"blob": "x" * 300_000})
    events[exited] = dict(events[exited], stateExitedEventDetails=details)
    page = drained.page(events)
    assert "cut: " in page.html
    assert "the first 20,000 shown" in page.html
    assert len(page.html) < 400_000


# --- hostile content ----------------------------------------------------------------------------
def test_hostile_markup_from_the_notice_is_shown_escaped(pages: dict[str, Page]) -> None:
    page = pages["drained"]
    assert HOSTILE not in page.html
    assert "<img" not in page.html.lower()
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page.html  # shown, as text
    assert [e.tag for e in page.elements if e.tag in {"img", "script"}] == ["script"]
    shown = [e.content() for e in page.elements if e.tag == "pre" and HOSTILE in e.content()]
    assert shown  # the parser reads it back as the text it was


def test_hostile_names_errors_and_causes_are_escaped_everywhere(never_effective: Execution) -> None:
    evil = "\"'><svg/onload=alert(1)><script>alert(2)</script>\x00\ud800"
    definition = json.loads(json.dumps(never_effective.definition))
    states = definition["States"]
    states[evil] = {"Type": "Pass", "Comment": evil, "Next": "Failed"}
    states["RouteEvent"]["Default"] = evil
    events = []
    for event in map(copy.deepcopy, never_effective.events):
        for key, value in event.items():
            if key.endswith("EventDetails"):
                if "error" in value:
                    value["error"] = evil
                if "cause" in value:
                    value["cause"] = json.dumps({"errorMessage": evil, "errorType": evil})
                if "name" in value and value["name"] == "RouteDeregistration":
                    value["name"] = evil
        events.append(event)
    analysis = analyse(events)
    page = render_page(evil, definition, analysis, events)
    page.encode("utf-8")  # lone surrogates made printable: the CLI writes UTF-8
    tree = Page(page, definition, analysis)
    assert {e.tag for e in tree.elements} - {"#document"} <= PAGE_TAGS
    assert [e.tag for e in tree.elements if e.tag == "script"] == ["script"]
    assert all(not key.startswith("on") for e in tree.elements for key in e.attrs)
    assert "<svg/onload" not in page
    assert "<script>alert" not in page
    assert "\x00" not in page
    shown = evil[:-2] + "\\x00\\ud800"  # as it is, its NUL and lone surrogate made visible
    assert shown in tree.nodes
    assert tree.result(shown) == "succeeded"  # the visits renamed to it
    assert shown in tree.by_id("summary").content()


# --- the layout ----------------------------------------------------------------------------------
def boxes(page: Page) -> dict[str, tuple[float, float, float, float]]:
    out: dict[str, tuple[float, float, float, float]] = {}
    for element in page.elements:
        if element.tag == "g" and "node" in element.classes():
            x, y = float(element.attrs["data-x"]), float(element.attrs["data-y"])
            w, h = float(element.attrs["data-w"]), float(element.attrs["data-h"])
            out[element.attrs.get("data-state", f"#{len(out)}")] = (x, y, x + w, y + h)
    return out


def near_box(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    """On the box's outline, or within the corner cut of a Choice (hexagon) or pill."""
    x, y = point
    x0, y0, x1, y1 = box
    inside = x0 - 1.5 <= x <= x1 + 1.5 and y0 - 1.5 <= y <= y1 + 1.5
    to_border = min(abs(x - x0), abs(x - x1), abs(y - y0), abs(y - y1))
    return inside and to_border <= 15


def check_layout(page: Page) -> None:
    placed = boxes(page)
    for (a, box_a), (b, box_b) in ((p, q) for p in placed.items() for q in placed.items() if p[0] < q[0]):
        apart = box_a[2] <= box_b[0] or box_b[2] <= box_a[0] or box_a[3] <= box_b[1] or box_b[3] <= box_a[1]
        assert apart, (a, box_a, b, box_b)
    edges = [e for e in page.elements if e.tag == "path" and "edge" in e.classes()]
    assert edges
    for edge in edges:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", edge.attrs["d"])]
        start, end = (numbers[0], numbers[1]), (numbers[-2], numbers[-1])
        if "data-from" in edge.attrs:
            assert near_box(start, placed[edge.attrs["data-from"]]), (edge.attrs, start)
        if "data-to" in edge.attrs:
            assert near_box(end, placed[edge.attrs["data-to"]]), (edge.attrs, end)
        assert math.dist(start, end) > 1


def test_the_layout_puts_no_box_over_another_and_edges_end_on_their_boxes(pages: dict[str, Page]) -> None:
    page = pages["never-effective"]
    check_layout(page)
    placed = boxes(page)
    assert len(placed) == len(page.definition["States"]) + 1  # and Start
    # layered top to bottom: the main path goes down
    tops = [placed[state][1] for state in [*PATH_TO_DEREGISTER, "DeregisterTargets", "RouteDeregistration"]]
    assert tops == sorted(tops)
    assert len(set(tops)) == len(tops)
    # the loop's back edge (RouteDrain -> WaitForDrain) is drawn, upwards
    back = next(e for e in page.elements if e.attrs.get("data-from") == "RouteDrain"
                and e.attrs.get("data-to") == "WaitForDrain")  # fmt: skip
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", back.attrs["d"])]
    assert numbers[-1] < numbers[1]


def test_a_definition_with_cycles_self_loops_and_parts_apart_is_laid_out() -> None:
    catch_all = [{"ErrorEquals": ["States.ALL"], "Next": "C"}]
    rules = [
        {"Variable": "$.again", "BooleanEquals": True, "Next": "A"},  # a cycle
        {"Variable": "$.self", "IsPresent": True, "Next": "B"},  # a loop on itself
    ]
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": "x", "Next": "B", "Catch": catch_all},
            "B": {"Type": "Choice", "Choices": rules, "Default": "C"},
            "C": {"Type": "Pass", "End": True},
            "Orphan": {"Type": "Wait", "Seconds": 1, "Next": "Orphan2"},  # unreachable
            "Orphan2": {"Type": "Map", "End": True},
            "Lonely": {"Type": "Fail", "Error": "E"},  # connected to nothing
        },
    }
    page = Page(render_page("arn:x", definition, analyse([]), []), definition, analyse([]))
    assert set(page.nodes) == set(definition["States"])
    assert all(page.result(state) == "unreached" for state in definition["States"])
    check_layout(page)
    assert any(e.content() == "End" for e in page.elements if "n-terminus" in e.classes())
    labels = [e.content() for e in page.elements if e.tag == "g" and "label" in e.classes()]
    assert {"again = true", "self present", "Default", "Catch States.ALL"} <= set(labels)
    dashed = [e for e in page.elements if e.tag == "path" and "e-catch" in e.classes()]
    assert [(e.attrs["data-from"], e.attrs["data-to"]) for e in dashed] == [("A", "C")]


def test_an_empty_definition_still_makes_a_page() -> None:
    page = render_page("arn:x", {}, analyse([]), [])
    assert "no states to draw" in page
    assert page.startswith("<!DOCTYPE html>")
