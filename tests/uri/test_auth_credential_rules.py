"""Every credential rule of the authentication specification, per mechanism (issue 14).

Rules are quoted from "auth.md" in mongodb/specifications at the commit our spec data
was taken from (see shared/specs/README.md), section "MongoCredential Properties" of
each mechanism, "Errors", "Naming" and "Connection String Options". Each case is
one rule for one mechanism; URI cases go through ``parse_uri``, keyword cases (values
a URI cannot carry, such as callbacks) through ``ClientOptions.from_inputs``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from driver.connection_string.client_options import ClientOptions
from driver.connection_string.uri import parse_uri
from driver.errors import ConfigurationError


def _callback(*_args: Any) -> None:
    return None


# (id, rule quoted from the spec, URI, expected credential fields or an error regex)
URI_CASES: list[tuple[str, str, str, Mapping[str, Any] | str]] = [
    # -- Naming ---------------------------------------------------------------------------
    ("gssapi-property-names-case-insensitive",
     "Naming of mechanism properties MUST be case-insensitive",
     "mongodb://u%40R@h/?authMechanism=GSSAPI&authMechanismProperties=service_name:other",
     {"mechanism_properties": {"SERVICE_NAME": "other"}}),
    ("oidc-property-names-case-insensitive",
     "Naming of mechanism properties MUST be case-insensitive",
     "mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=environment:test",
     {"mechanism_properties": {"ENVIRONMENT": "test"}}),
    ("property-name-given-twice-in-two-cases",
     "SERVICE_NAME and service_name refer to the same property",
     "mongodb://u@h/?authMechanism=GSSAPI"
     "&authMechanismProperties=SERVICE_NAME:a,service_name:b",
     "SERVICE_NAME.*more than once"),
    # -- SCRAM-SHA-1 / SCRAM-SHA-256 / default ----------------------------------------------
    ("scram1-username-required", "SCRAM-SHA-1 username: MUST be specified",
     "mongodb://h/?authMechanism=SCRAM-SHA-1", "needs a user name"),
    ("scram256-username-required", "SCRAM-SHA-256 username: MUST be specified",
     "mongodb://h/?authMechanism=SCRAM-SHA-256", "needs a user name"),
    ("scram1-password-required", "SCRAM-SHA-1 password: MUST be specified",
     "mongodb://u@h/?authMechanism=SCRAM-SHA-1", "needs a password"),
    ("scram256-source-default", "source: Defaults to the database name ... or admin",
     "mongodb://u:p@h/app?authMechanism=SCRAM-SHA-256", {"source": "app"}),
    ("scram-properties-forbidden", "SCRAM-SHA-256 mechanism_properties: MUST NOT be specified",
     "mongodb://u:p@h/?authMechanism=SCRAM-SHA-256&authMechanismProperties=SERVICE_NAME:x",
     "no meaning for SCRAM-SHA-256"),
    ("default-userinfo-implies-auth",
     "The presence of a credential delimiter (i.e. @) ... MUST be interpreted as ... "
     "configuring authentication credentials",
     "mongodb://@h/", "user name"),
    ("authsource-alone-no-credential",
     "the presence of the authSource option ... MUST NOT be interpreted as a request for "
     "authentication",
     "mongodb://h/?authSource=foo", {}),
    ("authsource-empty", "Drivers MUST raise an error if the authSource option is ... empty",
     "mongodb://u:p@h/?authSource=", "authSource"),
    # -- MONGODB-CR (removed) ------------------------------------------------------------
    ("mongodb-cr-removed",
     "MONGODB-CR is no longer listed: authMechanism is one of MONGODB-X509, GSSAPI, PLAIN, "
     "SCRAM-SHA-1, SCRAM-SHA-256, MONGODB-AWS",
     "mongodb://u:p@h/?authMechanism=MONGODB-CR", "MONGODB-CR was removed"),
    ("unknown-mechanism", "authMechanism: one of the listed mechanisms",
     "mongodb://u:p@h/?authMechanism=FOO", "expected one of"),
    # -- MONGODB-X509 ---------------------------------------------------------------------
    ("x509-username-optional", "X509 username: SHOULD NOT be provided",
     "mongodb://h/?authMechanism=MONGODB-X509", {"username": None, "source": "$external"}),
    ("x509-password-forbidden", "X509 password: MUST NOT be specified",
     "mongodb://u:p@h/?authMechanism=MONGODB-X509", "does not use a password"),
    ("x509-source-external", "X509 source: MUST be \"$external\"",
     "mongodb://u@h/?authMechanism=MONGODB-X509&authSource=foo", r"must be \$external"),
    ("x509-properties-forbidden", "X509 mechanism_properties: MUST NOT be specified",
     "mongodb://h/?authMechanism=MONGODB-X509&authMechanismProperties=SERVICE_NAME:x",
     "no meaning for MONGODB-X509"),
    # -- PLAIN ----------------------------------------------------------------------------
    ("plain-username-required", "PLAIN username: MUST be specified",
     "mongodb://h/?authMechanism=PLAIN", "needs a user name"),
    ("plain-password-required", "PLAIN password: MUST be specified",
     "mongodb://u@h/?authMechanism=PLAIN", "needs a password"),
    ("plain-source-default", "PLAIN source: Defaults to the database name ... or $external",
     "mongodb://u:p@h/?authMechanism=PLAIN", {"source": "$external"}),
    ("plain-source-user-given", "PLAIN source: MUST be specified (any database)",
     "mongodb://u:p@h/?authMechanism=PLAIN&authSource=ldap", {"source": "ldap"}),
    ("plain-properties-forbidden", "PLAIN mechanism_properties: MUST NOT be specified",
     "mongodb://u:p@h/?authMechanism=PLAIN&authMechanismProperties=SERVICE_NAME:x",
     "no meaning for PLAIN"),
    # -- GSSAPI ---------------------------------------------------------------------------
    ("gssapi-username-required", "GSSAPI username: MUST be specified and non-zero length",
     "mongodb://h/?authMechanism=GSSAPI", "needs a user name"),
    ("gssapi-password-optional", "GSSAPI password: MAY be specified",
     "mongodb://u:p@h/?authMechanism=GSSAPI", {"source": "$external"}),
    ("gssapi-source-external", "GSSAPI source: MUST be \"$external\"",
     "mongodb://u@h/?authMechanism=GSSAPI&authSource=foo", r"must be \$external"),
    ("gssapi-service-name-default", "SERVICE_NAME ... The default is \"mongodb\"",
     "mongodb://u@h/?authMechanism=GSSAPI", {"mechanism_properties": {"SERVICE_NAME": "mongodb"}}),
    ("gssapi-canonicalize-invalid",
     "CANONICALIZE_HOST_NAME: If a value is provided that does not match one of these the "
     "driver MUST raise an error",
     "mongodb://u@h/?authMechanism=GSSAPI&authMechanismProperties=CANONICALIZE_HOST_NAME:x",
     "CANONICALIZE_HOST_NAME must be one of"),
    ("gssapi-unknown-property", "a mechanism_property ... that does not apply: raise an error",
     "mongodb://u@h/?authMechanism=GSSAPI&authMechanismProperties=AWS_SESSION_TOKEN:x",
     "unknown authMechanismProperties AWS_SESSION_TOKEN"),
    ("gssapi-service-name-alias",
     "gssapiServiceName (deprecated): An alias for authMechanismProperties=SERVICE_NAME",
     "mongodb://u@h/?authMechanism=GSSAPI&gssapiServiceName=other",
     {"mechanism_properties": {"SERVICE_NAME": "other"}}),
    # -- MONGODB-AWS ----------------------------------------------------------------------
    ("aws-no-credentials", "AWS: credentials come from the environment",
     "mongodb://h/?authMechanism=MONGODB-AWS", {"username": None, "source": "$external"}),
    ("aws-username-and-password-refused",
     "AWS: If credentials are provided in the URI or client options, the driver MUST raise "
     "an error",
     "mongodb://key:secret@h/?authMechanism=MONGODB-AWS", "environment"),
    ("aws-username-alone-refused",
     "AWS: If credentials are provided in the URI ... the driver MUST raise an error",
     "mongodb://key@h/?authMechanism=MONGODB-AWS", "environment"),
    ("aws-session-token-refused",
     "AWS mechanism_properties: only AWS_CREDENTIAL_PROVIDER (explicit AWS authentication "
     "properties were removed)",
     "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:t0k",
     "AWS_SESSION_TOKEN"),
    ("aws-provider-not-from-uri",
     "AWS_CREDENTIAL_PROVIDER: a function or object ... (a URI can only hold text)",
     "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_CREDENTIAL_PROVIDER:x",
     "AWS_CREDENTIAL_PROVIDER"),
    ("aws-source-external", "AWS source: MUST be \"$external\"",
     "mongodb://h/?authMechanism=MONGODB-AWS&authSource=foo", r"must be \$external"),
    # -- MONGODB-OIDC ---------------------------------------------------------------------
    ("oidc-password-forbidden", "OIDC password: MUST NOT be specified",
     "mongodb://u:p@h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure,"
     "TOKEN_RESOURCE:r", "does not use a password"),
    ("oidc-source-external", "OIDC source: MUST be \"$external\"",
     "mongodb://h/?authMechanism=MONGODB-OIDC&authSource=foo"
     "&authMechanismProperties=ENVIRONMENT:test", r"must be \$external"),
    ("oidc-environment-values", "ENVIRONMENT: the value MUST be one of test, azure, gcp, k8s",
     "mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:aws",
     "must be one of"),
    ("oidc-azure-needs-token-resource",
     "TOKEN_RESOURCE is not provided and ENVIRONMENT is one of azure, gcp: MUST raise",
     "mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure",
     "needs TOKEN_RESOURCE"),
    ("oidc-k8s-refuses-token-resource",
     "TOKEN_RESOURCE is provided and ENVIRONMENT is not one of azure, gcp: MUST raise",
     "mongodb://h/?authMechanism=MONGODB-OIDC"
     "&authMechanismProperties=ENVIRONMENT:k8s,TOKEN_RESOURCE:r", "only used with"),
    ("oidc-azure-username-allowed", "OIDC username: MAY be specified (azure client id)",
     "mongodb://u@h/?authMechanism=MONGODB-OIDC"
     "&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:r", {"username": "u"}),
    ("oidc-test-username-refused", "should throw an exception if username is specified for test",
     "mongodb://u@h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:test",
     "takes no user name"),
    ("oidc-k8s-username-refused", "OIDC k8s: no user name (the token file names the user)",
     "mongodb://u@h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:k8s",
     "takes no user name"),
    ("oidc-gcp-username-refused", "should throw an error for a username ... with gcp provider",
     "mongodb://u@h/?authMechanism=MONGODB-OIDC"
     "&authMechanismProperties=ENVIRONMENT:gcp,TOKEN_RESOURCE:r", "takes no user name"),
    ("oidc-allowed-hosts-not-in-uri",
     "ALLOWED_HOSTS: This value MUST NOT be allowed in the URI connection string",
     "mongodb://h/?authMechanism=MONGODB-OIDC"
     "&authMechanismProperties=ENVIRONMENT:test,ALLOWED_HOSTS:example.com",
     "ALLOWED_HOSTS"),
    ("oidc-callback-not-from-uri",
     "OIDC_CALLBACK: an OIDC Callback (a URI can only hold text)",
     "mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=OIDC_CALLBACK:x",
     "OIDC_CALLBACK"),
    ("oidc-unknown-property", "should throw an exception when unsupported auth property",
     "mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=Unsupported:x",
     "unknown authMechanismProperties"),
]


@pytest.mark.parametrize(("rule", "uri", "expected"),
                         [case[1:] for case in URI_CASES], ids=[case[0] for case in URI_CASES])
def test_uri_credential_rule(rule: str, uri: str, expected: Mapping[str, Any] | str) -> None:
    if isinstance(expected, str):
        with pytest.raises(ConfigurationError, match=expected):
            parse_uri(uri)
        return
    credential = parse_uri(uri).credentials
    if not expected:
        assert credential is None, rule
        return
    assert credential is not None, rule
    for name, value in expected.items():
        got = getattr(credential, name)
        if name == "mechanism_properties":
            assert {k: got[k] for k in value} == value, rule
        else:
            assert got == value, rule


# Keyword cases: values only client options can carry.
KEYWORD_CASES: list[tuple[str, str, str, dict[str, Any], Mapping[str, Any] | str]] = [
    ("aws-keyword-credentials-refused",
     "AWS: If credentials are provided in ... client options, the driver MUST raise an error",
     "mongodb://h/", {"authMechanism": "MONGODB-AWS", "username": "k", "password": "s"},
     "environment"),
    ("aws-credential-provider-callable",
     "AWS_CREDENTIAL_PROVIDER: Drivers MAY allow the user to specify an object or function",
     "mongodb://h/?authMechanism=MONGODB-AWS",
     {"authMechanismProperties": {"AWS_CREDENTIAL_PROVIDER": _callback}},
     {"mechanism": "MONGODB-AWS"}),
    ("oidc-needs-environment-or-callback",
     "should throw an exception if neither environment nor callbacks specified (checked "
     "when the client is created: only client options can carry the callback)",
     "mongodb://h/?authMechanism=MONGODB-OIDC", {}, "ENVIRONMENT"),
    ("oidc-token-resource-comma-in-client-options",
     "a TOKEN_RESOURCE with a comma , must be given as a MongoClient configuration",
     "mongodb://h/?authMechanism=MONGODB-OIDC",
     {"authMechanismProperties": {"ENVIRONMENT": "azure", "TOKEN_RESOURCE": "api://a,b"}},
     {"mechanism_properties": {"ENVIRONMENT": "azure", "TOKEN_RESOURCE": "api://a,b"}}),
    ("oidc-callback-keyword", "OIDC_CALLBACK: an OIDC Callback that returns OIDC credentials",
     "mongodb://h/?authMechanism=MONGODB-OIDC",
     {"authMechanismProperties": {"OIDC_CALLBACK": _callback}}, {"mechanism": "MONGODB-OIDC"}),
    ("oidc-environment-and-callback",
     "If both ENVIRONMENT and an OIDC Callback ... are provided ... MUST raise an error",
     "mongodb://h/?authMechanism=MONGODB-OIDC",
     {"authMechanismProperties": {"ENVIRONMENT": "test", "OIDC_CALLBACK": _callback}},
     "not both"),
    ("oidc-both-callbacks",
     "Drivers MUST return an error if both an OIDC Callback and OIDC Human Callback are "
     "provided", "mongodb://h/?authMechanism=MONGODB-OIDC",
     {"authMechanismProperties": {"OIDC_CALLBACK": _callback,
                                  "OIDC_HUMAN_CALLBACK": _callback}}, "not both"),
    ("oidc-callback-must-be-callable", "OIDC_CALLBACK: an OIDC Callback",
     "mongodb://h/?authMechanism=MONGODB-OIDC",
     {"authMechanismProperties": {"OIDC_CALLBACK": "token"}}, "OIDC_CALLBACK"),
    ("oidc-allowed-hosts-keyword-list",
     "ALLOWED_HOSTS: The list of allowed hostnames (from client options)",
     "mongodb://h/?authMechanism=MONGODB-OIDC",
     {"authMechanismProperties": {"OIDC_HUMAN_CALLBACK": _callback,
                                  "ALLOWED_HOSTS": ["*.example.com"]}},
     {"mechanism": "MONGODB-OIDC"}),
    ("oidc-allowed-hosts-must-be-list", "ALLOWED_HOSTS: The list of allowed hostnames",
     "mongodb://h/?authMechanism=MONGODB-OIDC",
     {"authMechanismProperties": {"OIDC_HUMAN_CALLBACK": _callback,
                                  "ALLOWED_HOSTS": "example.com"}}, "ALLOWED_HOSTS"),
]


@pytest.mark.parametrize(("rule", "uri", "kwargs", "expected"),
                         [case[1:] for case in KEYWORD_CASES],
                         ids=[case[0] for case in KEYWORD_CASES])
def test_keyword_credential_rule(rule: str, uri: str, kwargs: dict[str, Any],
                                 expected: Mapping[str, Any] | str) -> None:
    if isinstance(expected, str):
        with pytest.raises(ConfigurationError, match=expected):
            ClientOptions.from_inputs(uri, None, kwargs)
        return
    credential = ClientOptions.from_inputs(uri, None, kwargs).credentials
    assert credential is not None, rule
    for name, value in expected.items():
        assert getattr(credential, name) == value, rule


@pytest.mark.parametrize(
    "uri",
    [
        # "the secret access key and only the secret access key is sensitive. Drivers MUST
        # take proper precautions to ensure we do not leak this info."
        "mongodb://key:s3cr3tv4lue@h/?authMechanism=MONGODB-AWS",
        "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:s3cr3tv4lue",
        "mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN:s3cr3tv4lue%2Cx",
        "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN",
        "mongodb://u:s3cr3tv4lue@h/?authMechanism=MONGODB-X509",
        "mongodb://u:s3cr3tv4lue@h/?authMechanism=MONGODB-OIDC",
    ],
)
def test_secrets_never_in_errors(uri: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_uri(uri)
    assert not re.search("s3cr3tv4lue|AWS_SESSION_TOKEN:", str(caught.value))
