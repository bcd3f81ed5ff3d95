"""Editing the running topology from the app: the selection, one form per kind, undo and redo.

Every edit is a list of core TopologyChanges made through `Engine.change_topology_all`, so the engine
stays the one place that changes a broker, and the views follow the TopologyChanged events as for
any other change.
"""
