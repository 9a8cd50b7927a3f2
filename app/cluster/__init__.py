"""Seeing the cluster: replica-set health view, server stats and the connection doctor."""
