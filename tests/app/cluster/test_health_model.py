"""HealthState and its Qt models, fed with the driver's own immutable descriptions (built
from hello replies by ``driver.sdam``) and replSetGetStatus-shaped replies. The Qt models
pass pytest-qt's qtmodeltester while rows are added, changed and removed."""

from __future__ import annotations

import datetime

import pytest

from app.cluster.common import plain_error, server_version_for_wire
from app.cluster.health_model import ClusterHealth, MemberTableModel, TimelineModel
from app.cluster.health_state import HealthState, Role, role_of, term_of_election_id
from app.cluster.health_view import HealthView
from driver.bson import ObjectId
from driver.errors import AutoReconnect
from driver.sdam.server_description import ServerDescription
from driver.sdam.settings import TopologySettings
from driver.sdam.topology_description import TopologyDescription, updated_topology_description
from driver.sdam.types import ServerType, TopologyType
from tests.app.cluster.conftest import screenshot

A, B, C, D = ("a", 1), ("b", 2), ("c", 3), ("d", 4)
HOSTS = ["a:1", "b:2", "c:3"]


def _election_id(term: int) -> ObjectId:
    return ObjectId(b"\x7f\xff\xff\xff" + term.to_bytes(8, "big"))


def _hello(me: str, **fields) -> dict:
    reply = {"ok": 1, "setName": "rs0", "hosts": HOSTS, "me": me, "minWireVersion": 0,
             "maxWireVersion": 21, "setVersion": 1}
    reply.update(fields)
    return reply


def _primary(me: str, term: int) -> dict:
    return _hello(me, isWritablePrimary=True, primary=me, electionId=_election_id(term))


def _secondary(me: str, primary: str, **fields) -> dict:
    return _hello(me, secondary=True, primary=primary, **fields)


class Topology:
    """A real TopologyDescription advanced one server check at a time."""

    def __init__(self) -> None:
        settings = TopologySettings(seeds=[A, B, C], replica_set_name="rs0")
        self.td = TopologyDescription.initial(settings)

    def check(self, address, hello=None, error=None, rtt=0.002) -> TopologyDescription:
        sd = ServerDescription(address, hello, rtt if hello else None, error)
        self.td = updated_topology_description(self.td, sd)
        return self.td


def test_roles_from_hello():
    assert role_of("RSOther", {"hidden": True}, None) == Role.HIDDEN
    assert role_of("RSSecondary", {"passive": True}, None) == Role.PASSIVE
    assert role_of("RSArbiter", {}, None) == Role.ARBITER
    assert role_of("RSGhost", {}, None) == Role.GHOST
    assert role_of("Unknown", {}, AutoReconnect("x")) == Role.UNREACHABLE
    assert role_of("Unknown", {}, None) == Role.UNKNOWN
    assert role_of("LoadBalancer", {}, None) == Role.LOAD_BALANCER
    assert role_of("Mongos", {}, None) == Role.MONGOS
    assert term_of_election_id(_election_id(7)) == 7
    assert term_of_election_id(ObjectId()) is None
    assert server_version_for_wire(6) == "3.6" and server_version_for_wire(21) == "7.0"
    assert "nothing is listening" in plain_error(AutoReconnect("a:1: [Errno 111] Connection refused"))


@pytest.mark.parametrize("checked", ["members", "timeline"])
def test_state_follows_elections_failures_and_status(qapp, qtmodeltester, checked):
    health = ClusterHealth()
    members = MemberTableModel(health)
    timeline = TimelineModel(health)
    # The tester follows one model at a time: run the same story once for each.
    qtmodeltester.check(members if checked == "members" else timeline, force_py=True)
    topology = Topology()
    t = 1000.0
    health._clock = lambda: t  # the state takes "now" from the clock; pin it
    health.apply_description(topology.check(A, _primary("a:1", 1)))
    health.apply_description(topology.check(B, _secondary("b:2", "a:1", tags={"dc": "east"})))
    health.apply_description(topology.check(C, _secondary("c:3", "a:1", hidden=True)))
    health._flush()
    state = health.state
    assert {a: m.role for a, m in state.members.items()} == {
        A: Role.PRIMARY, B: Role.SECONDARY, C: Role.HIDDEN}
    assert members.rowCount() == 3 and members.data(members.index(1, 9)) == "dc=east"
    assert state.term == 1 and state.timeline_has_kind("election")

    # A heartbeat failure, then the primary steps down and B wins term 2.
    state.heartbeat_failed(C, 0.01, AutoReconnect("c:3: [Errno 111] Connection refused"), t)
    health.apply_description(topology.check(C, error=AutoReconnect("c:3: connection refused")))
    health.apply_description(topology.check(A, _secondary("a:1", "")))
    health.apply_description(topology.check(B, _primary("b:2", 2)))
    health._flush()
    assert state.members[C].role == Role.UNREACHABLE and "nothing is listening" in \
        state.members[C].last_error
    assert state.primary == B and state.term == 2
    kinds = [e.kind for e in state.timeline]
    assert kinds.count("election") == 2 and "heartbeat" in kinds and "down" in kinds
    assert "term 2" in state.timeline_text()
    assert timeline.rowCount() == len(state.timeline)

    # replSetGetStatus: lag from optimes, sync sources, states; config: priority/votes.
    now = datetime.datetime(2026, 1, 1, 12, 0, 0)
    state.apply_repl_status({"term": 2, "members": [
        {"name": "a:1", "stateStr": "SECONDARY", "optimeDate": now - datetime.timedelta(seconds=4),
         "syncSourceHost": "b:2"},
        {"name": "b:2", "stateStr": "PRIMARY", "optimeDate": now},
        {"name": "c:3", "stateStr": "DOWN", "lastHeartbeatMessage": "Connection refused"},
    ]}, t + 1)
    state.apply_repl_config({"members": [{"host": "a:1", "priority": 2.0, "votes": 1}]})
    assert state.members[A].lag_s == 4.0 and state.members[A].sync_source == B
    assert state.members[A].priority == 2.0 and members.data(members.index(0, 8)) == "2.0 / 1"

    # A hidden member the driver never monitors shows up from replSetGetStatus alone.
    state.apply_repl_status({"term": 2, "members": [
        {"name": "a:1", "stateStr": "SECONDARY"}, {"name": "b:2", "stateStr": "PRIMARY"},
        {"name": "c:3", "stateStr": "SECONDARY"},
        {"name": "d:4", "stateStr": "SECONDARY", "hidden": True, "pingMs": 3}]}, t + 2)
    health._flush()
    assert state.members[D].role == Role.HIDDEN and not state.members[D].monitored
    assert members.rowCount() == 4

    # C comes back, then C and D leave the set: rows change under the tester.
    health.apply_description(topology.check(C, _secondary("c:3", "b:2")))
    assert "up" in [e.kind for e in state.timeline]
    state.apply_repl_status({"term": 2, "members": [
        {"name": "a:1", "stateStr": "SECONDARY"}, {"name": "b:2", "stateStr": "PRIMARY"}]},
        t + 3)
    topology.td = TopologyDescription(TopologyType.ReplicaSetWithPrimary,
                                      {a: s for a, s in topology.td.server_descriptions().items()
                                       if a != C}, "rs0", 1, _election_id(2),
                                      topology.td.topology_settings)
    health.apply_description(topology.td)
    health._flush()
    assert members.rowCount() == 2 and "removed" in [e.kind for e in state.timeline]


def test_rtt_samples_and_lag_from_last_write():
    state = HealthState()
    topology = Topology()
    state.apply_topology(topology.check(A, _primary("a:1", 1)), 10.0)
    state.apply_topology(topology.check(B, _secondary("b:2", "a:1")), 10.0)
    state.apply_rtt_samples(A, [(11.0, 0.002), (12.0, 0.004)])
    state.apply_rtt_samples(A, [(12.0, 0.004), (13.0, 0.050)])  # only newer ones count
    assert [v for _, v in state.members[A].rtt_history][-3:] == [2.0, 4.0, 50.0]
    assert state.members[A].rtt_ms == 50.0
    write = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    state.heartbeat_succeeded(A, 0.001, {"lastWrite": {"lastWriteDate": write}}, False, 14.0)
    state.heartbeat_succeeded(B, 0.001, {"lastWrite": {"lastWriteDate":
                                                       write - datetime.timedelta(seconds=3)}},
                              True, 14.0)
    assert state.members[B].lag_s == 3.0 and state.members[B].last_heartbeat == 14.0


def test_sharded_and_load_balanced_shapes(qtbot, qtmodeltester):
    health = ClusterHealth()
    settings = TopologySettings(seeds=[A, B])
    mongos = {a: ServerDescription(a, {"ok": 1, "msg": "isdbgrid", "maxWireVersion": 21}, 0.001)
              for a in (A, B)}
    health.apply_description(TopologyDescription(TopologyType.Sharded, mongos, None, None, None,
                                                 settings))
    health.state.apply_shards({"shards": [{"_id": "shard0", "host": "rs/x:1"}]})
    health._flush()
    view = HealthView(health)
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    qtmodeltester.check(view.member_model, force_py=True)
    assert [m.role for m in health.state.ordered_members()] == [Role.MONGOS, Role.MONGOS]
    screenshot(view, "health-sharded-shapes")
    lb = ServerDescription.load_balancer(D)
    assert lb.server_type == ServerType.LoadBalancer
    health.apply_description(TopologyDescription(TopologyType.LoadBalanced, {D: lb}, None, None,
                                                 None, TopologySettings(seeds=[D],
                                                                        load_balanced=True)))
    health._flush()
    assert [m.role for m in health.state.ordered_members()] == [Role.LOAD_BALANCER]
    assert "removed" in [e.kind for e in health.state.timeline]
    view.repaint()
    screenshot(view, "health-load-balancer")


def test_timeline_export(tmp_path, qtbot):
    health = ClusterHealth()
    view = HealthView(health)
    qtbot.addWidget(view)
    health.state.add_event(1_700_000_000.0, "election", "a:1 is primary (term 3)", A, 3)
    path = view.export_timeline(tmp_path / "timeline.txt")
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[1].startswith("2023-11-14 22:13:20.000Z  election")
    view.copy_timeline()


def test_one_member_going_down_is_logged_once(qapp):
    """The driver's checks ("not reachable") and each status poll ("DOWN") alternate
    while a member is down: the timeline says so once, not at every poll."""
    health = ClusterHealth()
    topology = Topology()
    t = 1000.0
    health._clock = lambda: t
    health.apply_description(topology.check(A, _primary("a:1", 1)))
    health.apply_description(topology.check(B, _secondary("b:2", "a:1")))
    health.apply_description(topology.check(C, _secondary("c:3", "a:1")))
    state = health.state
    status = {"term": 1, "members": [
        {"name": "a:1", "stateStr": "PRIMARY"}, {"name": "b:2", "stateStr": "SECONDARY"},
        {"name": "c:3", "stateStr": "DOWN"}]}
    for poll in range(3):
        error = AutoReconnect("c:3: [Errno 111] Connection refused")
        health.apply_description(topology.check(C, error=error))
        state.apply_repl_status(status, t + poll)
    health._flush()
    reports = [e.text for e in state.timeline if "reports DOWN" in e.text]
    assert reports == ["c:3 reports DOWN (was not reachable)"]
    assert [e.kind for e in state.timeline if e.address == C].count("down") == 1
    # Back, then down again: a new event, logged again.
    health.apply_description(topology.check(C, _secondary("c:3", "a:1")))
    health.apply_description(topology.check(C, error=AutoReconnect("c:3: refused")))
    assert [e.kind for e in state.timeline if e.address == C].count("down") == 2
