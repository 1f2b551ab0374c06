"""The JWT attack battery against ``TokenVerifier`` (README, authentication), in process.

The same tokens are thrown at the WebSocket handshake and at REST in
``tests/e2e/test_security.py``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.auth import (
    MAX_NAME_LENGTH,
    MAX_TOKEN_LENGTH,
    InvalidToken,
    TokenRules,
    TokenVerifier,
    display_name,
    issue_token,
)
from tests.forged_tokens import b64url, ec_pair, forge, rsa_pair

SECRET = "unit-test-secret-0123456789abcdef"
USER = "65a1b2c3d4e5f60718293a4b"


def claims(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"sub": USER, "exp": int(time.time()) + 600}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def hs(body: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return str(jwt.encode(body, secret, algorithm=algorithm))


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    return rsa_pair()


@pytest.fixture(scope="module")
def ec_keys() -> tuple[str, str]:
    return ec_pair()


HS = TokenVerifier(TokenRules(algorithms=("HS256",), secret=SECRET))
STRICT = TokenVerifier(TokenRules(algorithms=("HS256",), secret=SECRET, issuer="https://id.example", audience="rt"))


def refused(verifier: TokenVerifier, token: str | None) -> str:
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    return str(caught.value)


# the good path -------------------------------------------------------------------


def test_a_valid_token_names_the_user() -> None:
    identity = HS.verify(hs(claims(role="admin", name="Ada")))
    assert (identity.user_id, identity.role, identity.name, identity.is_admin) == (USER, "admin", "Ada", True)


def test_role_defaults_to_user_and_sub_is_lowercased() -> None:
    identity = HS.verify(hs(claims(sub=USER.upper())))
    assert identity.role == "user" and identity.user_id == USER


def test_issue_token_round_trips() -> None:
    token = issue_token(SECRET, USER, name="Grace", expires_at=int(time.time()) + 60)
    assert HS.verify(token).name == "Grace"


def test_issuer_and_audience_when_configured() -> None:
    assert STRICT.verify(hs(claims(iss="https://id.example", aud="rt"))).user_id == USER
    assert STRICT.verify(hs(claims(iss="https://id.example", aud=["other", "rt"]))).user_id == USER


# the battery -----------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(alg: str) -> None:
    assert refused(HS, forge({"alg": alg, "typ": "JWT"}, claims()))
    assert refused(HS, forge({"alg": alg, "typ": "JWT"}, claims())[:-1])  # no signature part at all


def test_none_in_the_configured_list_is_ignored() -> None:
    verifier = TokenVerifier(TokenRules(algorithms=("none", "HS256"), secret=SECRET))
    refused(verifier, forge({"alg": "none"}, claims()))


def test_wrong_signature_is_refused() -> None:
    refused(HS, hs(claims(), secret="another-secret-of-the-same-length!"))
    header, body, signature = hs(claims()).split(".")
    refused(HS, f"{header}.{b64url(json.dumps(claims(role='admin')).encode())}.{signature}")  # payload swapped
    refused(HS, f"{header}.{body}.{signature[:-2]}AA")


def test_expired_is_refused_without_leeway() -> None:
    refused(HS, hs(claims(exp=int(time.time()) - 1)))
    refused(HS, hs(claims(exp=int(time.time()) - 3600)))


def test_not_yet_valid_is_refused() -> None:
    refused(HS, hs(claims(nbf=int(time.time()) + 60)))
    refused(HS, hs(claims(nbf=int(time.time()) + 5)))
    assert HS.verify(hs(claims(nbf=int(time.time()) - 5))).user_id == USER


@pytest.mark.parametrize("exp", [None, "tomorrow", [1], {"at": 1}])
def test_missing_or_malformed_exp_is_refused(exp: Any) -> None:
    body = claims()
    if exp is None:
        del body["exp"]
    else:
        body["exp"] = exp
    refused(HS, forge({"alg": "HS256", "typ": "JWT"}, body, SECRET.encode()))


@pytest.mark.parametrize(
    "extra",
    [
        {"iss": "https://evil.example", "aud": "rt"},
        {"iss": "https://id.example", "aud": "other"},
        {"iss": "https://id.example", "aud": ["a", "b"]},
        {"iss": "https://id.example"},  # aud required when configured
        {"aud": "rt"},  # iss required when configured
        {},
    ],
)
def test_wrong_or_missing_iss_and_aud_are_refused(extra: dict[str, Any]) -> None:
    refused(STRICT, hs(claims(**extra)))


def test_rs256_public_key_as_hs256_secret_is_refused(rsa_keys: tuple[str, str]) -> None:
    private, public = rsa_keys
    rs_only = TokenVerifier(TokenRules(algorithms=("RS256",), public_key=public))
    assert rs_only.verify(str(jwt.encode(claims(), private, algorithm="RS256"))).user_id == USER
    confused = forge({"alg": "HS256", "typ": "JWT"}, claims(), public.encode())
    refused(rs_only, confused)  # HS256 is not on the list
    both = TokenVerifier(TokenRules(algorithms=("HS256", "RS256"), secret=SECRET, public_key=public))
    refused(both, confused)  # on the list, but HMAC is checked with the secret, never the public key
    refused(both, forge({"alg": "HS256"}, claims(), public.strip().encode()))
    assert both.verify(str(jwt.encode(claims(), private, algorithm="RS256"))).user_id == USER


def test_es256_with_a_public_key(ec_keys: tuple[str, str]) -> None:
    private, public = ec_keys
    verifier = TokenVerifier(TokenRules(algorithms=("ES256",), public_key=public))
    assert verifier.verify(str(jwt.encode(claims(), private, algorithm="ES256"))).user_id == USER
    refused(verifier, forge({"alg": "HS256"}, claims(), public.encode()))


@pytest.mark.parametrize(
    "alg", ["HS384", "HS512", "RS256", "ES256", "PS256", "hs256", "HS256 ", "", 256, None, ["HS256"]]
)
def test_algorithms_outside_the_allow_list_are_refused(alg: Any, rsa_keys: tuple[str, str]) -> None:
    if alg == "HS384":
        token = hs(claims(), algorithm="HS384")
    elif alg == "HS512":
        token = hs(claims(), algorithm="HS512")
    elif alg == "RS256":
        token = str(jwt.encode(claims(), rsa_keys[0], algorithm="RS256"))
    else:
        token = forge({"alg": alg, "typ": "JWT"}, claims(), SECRET.encode())
    refused(HS, token)


@pytest.mark.parametrize(
    "sub", ["alice", USER[:-1], USER + "0", "zz" + USER[2:], " " + USER[1:], 12345, None, "", [USER], {"id": USER}]
)
def test_sub_must_be_an_object_id(sub: Any) -> None:
    body = claims()
    if sub is None:
        del body["sub"]
    else:
        body["sub"] = sub
    refused(HS, forge({"alg": "HS256", "typ": "JWT"}, body, SECRET.encode()))


@pytest.mark.parametrize("role", ["superuser", "ADMIN", "", 1, True, None, ["admin"]])
def test_role_must_be_admin_or_user(role: Any) -> None:
    body = claims()
    body["role"] = role
    refused(HS, forge({"alg": "HS256", "typ": "JWT"}, body, SECRET.encode()))


def test_a_huge_token_is_refused_before_parsing() -> None:
    huge = hs(claims(padding="x" * MAX_TOKEN_LENGTH))
    assert len(huge) > MAX_TOKEN_LENGTH
    assert "too large" in refused(HS, huge)
    refused(HS, "a" * 10_000_000)


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "   ",
        "a",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "...",
        "e30.e30.",
        "W10.e30.",
        "bnVsbA.e30.",
        b64url(b"\xff\xfe") + ".e30.",
        "eyJhbGciOiJIUzI1NiJ9.%%%.abc",
        "\x00\x01\x02",
    ],
)
def test_garbage_is_refused(token: str | None) -> None:
    refused(HS, token)


def test_the_configuration_is_checked_at_start(rsa_keys: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="JWT_SECRET"):
        TokenVerifier(TokenRules(algorithms=("HS256",)))
    with pytest.raises(ValueError, match="JWT_PUBLIC_KEY"):
        TokenVerifier(TokenRules(algorithms=("RS256",), secret=SECRET))
    with pytest.raises(ValueError, match="unsupported"):
        TokenVerifier(TokenRules(algorithms=("HS1",), secret=SECRET))


def test_display_names_are_cleaned() -> None:
    assert display_name("Ada") == "Ada"
    assert display_name("  Ada \n Lovelace\t") == "Ada Lovelace"
    assert display_name("A\u202edmin\u200b") == "Admin"  # bidi override and zero-width space
    assert display_name("e\u0301") == "\u00e9"
    assert display_name("x" * 1000) == "x" * MAX_NAME_LENGTH
    assert display_name("\x00\x01") is None
    assert display_name(42) is None
    assert HS.verify(hs(claims(name="\x1b[31mEve\x1b[0m"))).name == "[31mEve[0m"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_any_string_is_either_valid_or_invalid_token(token: str) -> None:
    with pytest.raises(InvalidToken):
        HS.verify(token)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["sub", "exp", "nbf", "iat", "iss", "aud", "role", "name", "jti"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=False),
            st.text(max_size=30),
            st.lists(st.text(max_size=5), max_size=3),
        ),
    ),
    st.dictionaries(st.sampled_from(["alg", "typ", "kid", "crit", "jku", "x5u"]), st.text(max_size=20)),
)
def test_forged_claims_never_escape_as_anything_but_invalid_token(body: dict[str, Any], header: dict[str, Any]) -> None:
    token = forge(header, body, SECRET.encode())
    try:
        identity = HS.verify(token)
    except InvalidToken:
        return
    # accepted only with everything in order
    assert header.get("alg") == "HS256"
    assert isinstance(body.get("exp"), int | float) and body["exp"] > time.time()
    assert identity.user_id == str(body["sub"]).lower()


# extremes, critical headers and weak configurations ---------------------------------------------


@pytest.mark.parametrize(
    "times",
    [
        {"exp": 1e20},
        {"exp": 2**64},
        {"exp": float("inf")},
        {"exp": float("nan")},
        {"nbf": 1e20},
        {"nbf": -1},
        {"iat": 1e20},
        {"iat": -(2**70)},
        {"iat": "yesterday"},
    ],
)
def test_extreme_or_malformed_times_are_refused_as_invalid_tokens(times: dict[str, Any]) -> None:
    refused(HS, forge({"alg": "HS256", "typ": "JWT"}, claims(**times), SECRET.encode()))


def test_times_up_to_the_year_9999_are_accepted() -> None:
    assert HS.verify(hs(claims(exp=253_402_300_799, iat=0))).expires_at == 253_402_300_799


@pytest.mark.parametrize("crit", [["exp"], ["b64"], [], "x"])
def test_a_crit_header_is_refused(crit: Any) -> None:
    refused(HS, forge({"alg": "HS256", "typ": "JWT", "crit": crit}, claims(), SECRET.encode()))


@pytest.mark.parametrize("secret", ["s", "x" * 31, "é" * 15])
def test_an_hs_secret_under_32_bytes_is_refused_at_start(secret: str) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenVerifier(TokenRules(algorithms=("HS256",), secret=secret))
    assert TokenVerifier(TokenRules(algorithms=("HS256",), secret="x" * 32))


@pytest.mark.parametrize("algorithms", [("none",), ("None", "NONE"), ()])
def test_an_algorithm_list_without_a_usable_algorithm_is_refused_at_start(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="no usable algorithm"):
        TokenVerifier(TokenRules(algorithms=algorithms, secret=SECRET))


def test_a_token_verified_lately_is_still_refused_once_it_expires() -> None:
    clock = [time.time()]
    verifier = TokenVerifier(TokenRules(algorithms=("HS256",), secret=SECRET), now=lambda: clock[0])
    token = hs(claims(exp=int(clock[0]) + 60))
    first = verifier.verify(token)
    assert verifier.verify(token) == first  # known again by its bytes
    clock[0] += 60
    assert "expired" in refused(verifier, token)


def test_a_token_one_byte_away_from_one_verified_lately_is_verified_afresh() -> None:
    verifier = TokenVerifier(TokenRules(algorithms=("HS256",), secret=SECRET), remember=2)
    token = hs(claims())
    verifier.verify(token)
    head, _, signature = token.rpartition(".")
    forged = f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    assert "Signature" in refused(verifier, forged)
    others = [hs(claims(name=f"n{n}")) for n in range(3)]  # past what it remembers: the oldest are let go
    assert [verifier.verify(other).name for other in others] == ["n0", "n1", "n2"]
    assert verifier.verify(token).user_id == USER


class CountingVerifier(TokenVerifier):
    """The shipped verifier, counting the tokens it checks afresh (signature and claims)."""

    def __init__(self, remember: int) -> None:
        super().__init__(TokenRules(algorithms=("HS256",), secret=SECRET), remember=remember)
        self.checked = 0

    def _verify(self, token: str) -> Any:
        self.checked += 1
        return super()._verify(token)


def test_the_latest_tokens_verified_are_held_within_the_bound_and_the_oldest_let_go() -> None:
    verifier = CountingVerifier(remember=8)
    tokens = [hs(claims(name=f"n{n}")) for n in range(100)]  # a storm of distinct tokens
    for token in tokens:
        verifier.verify(token)
    assert verifier.checked == 100
    assert [verifier.verify(t).name for t in tokens[-8:]] == [f"n{n}" for n in range(92, 100)]
    assert verifier.checked == 100  # the latest 8 (as many as it remembers) presented again: all held
    assert verifier.verify(tokens[0]).name == "n0" and verifier.checked == 101  # the oldest: let go, checked again
    held = 0
    for token in tokens:
        before = verifier.checked
        verifier.verify(token)
        held += verifier.checked == before
    assert held <= 2 * 8  # never more than twice what it remembers


def test_a_token_presented_again_lately_stays_held_while_others_come_and_go() -> None:
    verifier = CountingVerifier(remember=8)
    kept = hs(claims(name="kept"))
    verifier.verify(kept)
    for n in range(100):
        verifier.verify(hs(claims(name=f"n{n}")))
        verifier.verify(kept)  # a client reconnecting again and again
    assert verifier.checked == 101  # kept was checked once
