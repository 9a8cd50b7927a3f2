"""A local MongoDB-compatible test and demo cluster speaking the real wire protocol.

    from sandbox import SandboxCluster
    with SandboxCluster(kind="replset", members=3) as cluster:
        ...  # cluster.uri, cluster.members, cluster.step_down(), cluster.kill(1), ...

Server-side BSON is PyMongo's ``bson`` and queries run in ``mongomock``; nothing here imports
``driver/`` or ``app/``, so the sandbox checks our driver's bytes independently.
"""

from sandbox.cluster import MemberInfo, SandboxCluster

__all__ = ["MemberInfo", "SandboxCluster"]
