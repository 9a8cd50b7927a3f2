"""Which errors are retried (``driver.operations.retry``), over the error objects the connection layer
really raises for server replies (``driver.net.responses.check_command_response``)."""

from __future__ import annotations

from typing import Any

import pytest

from driver.errors import (
    AutoReconnect,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
    WriteConcernError,
)
from driver.net.responses import check_command_response
from driver.operations.retry import (
    RETRYABLE_WRITE_ERROR,
    is_network_error,
    is_retryable_read_error,
    is_retryable_write_error,
    label_retryable_write_error,
    retryable_write_concern_error,
)


def _reply_error(reply: dict[str, Any]) -> PyMongoError:
    with pytest.raises(PyMongoError) as info:
        check_command_response(reply, 17)
    return info.value


def test_network_errors_are_retryable_and_labelled() -> None:
    for error in (AutoReconnect("reset"), NetworkTimeout("timed out")):
        assert is_network_error(error) and is_retryable_read_error(error)
        label_retryable_write_error(error, 17)
        assert is_retryable_write_error(error)
    for other in (ServerSelectionTimeoutError("none"), WaitQueueTimeoutError("full")):
        assert not is_network_error(other)


def test_not_primary_reply_is_retryable_for_reads() -> None:
    error = _reply_error({"ok": 0, "code": 10107, "errmsg": "not primary"})
    assert isinstance(error, NotPrimaryError) and not is_network_error(error)
    assert is_retryable_read_error(error)


def test_write_labels_come_from_new_servers_and_codes_from_old_ones() -> None:
    unlabelled = _reply_error({"ok": 0, "code": 189, "errmsg": "stepped down"})
    label_retryable_write_error(unlabelled, 17)  # 4.4+: the server decides
    assert not is_retryable_write_error(unlabelled)
    labelled = _reply_error({"ok": 0, "code": 189, "errmsg": "stepped down",
                             "errorLabels": [RETRYABLE_WRITE_ERROR]})
    assert is_retryable_write_error(labelled)
    old_server = OperationFailure("stepped down", 189, {"code": 189})
    label_retryable_write_error(old_server, 8)  # 4.2: the driver applies the code list
    assert is_retryable_write_error(old_server)
    not_retryable = OperationFailure("bad", 2, {"code": 2})
    label_retryable_write_error(not_retryable, 8)
    assert not is_retryable_write_error(not_retryable)
    assert not is_retryable_read_error(not_retryable)


def test_write_concern_errors() -> None:
    reply = {"n": 1, "writeConcernError": {"code": 91, "errmsg": "shutting down"}}
    assert retryable_write_concern_error(reply, 8)
    assert not retryable_write_concern_error(reply, 17)
    assert retryable_write_concern_error({**reply, "errorLabels": [RETRYABLE_WRITE_ERROR]}, 17)
    error = WriteConcernError("wc", 64, {"code": 64})
    label_retryable_write_error(error, 8)
    assert not is_retryable_write_error(error)
