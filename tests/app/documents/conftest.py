"""Fixtures of the collection page tests: the seeded sandbox (one per module), a
``ClientService`` on the test's worker pool, pages deleted on the GUI thread."""

from __future__ import annotations

import itertools

import pytest

from app.documents.collection_page import CollectionPage
from app.documents.views.document_views import ViewSettings
from app.services.client_service import ClientService
from driver import MongoClient
from sandbox.cluster import SandboxCluster

from .page_helpers import dispose, settle

_names = itertools.count()


@pytest.fixture(scope="module")
def cluster():
    with SandboxCluster(kind="standalone", seed=True) as running:
        yield running


@pytest.fixture(scope="module")
def client(cluster):
    handle = MongoClient(cluster.uri, serverSelectionTimeoutMS=5000)
    yield handle
    handle.close()


@pytest.fixture
def service(aloop, pool, cluster):
    svc = ClientService(cluster.uri, pool=pool)
    aloop.run_until_complete(svc.open())
    yield svc
    aloop.run_until_complete(svc.close())


@pytest.fixture
def make_page(aloop, service, data_dir, qtbot):
    pages = []

    def make(db="shop", collection="orders", **kwargs):
        page = CollectionPage(service, db, collection, settings=ViewSettings(data_dir),
                              **kwargs)
        page.resize(1100, 700)
        page.show()
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.close_page()
        settle(aloop, lambda page=page: not page.tasks)
        dispose(page)


@pytest.fixture
def scratch(client):
    collection = client["scratch"][f"c{next(_names)}"]
    yield collection
    collection.drop()


