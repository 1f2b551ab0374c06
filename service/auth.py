"""JWT identity (README, authentication) with PyJWT: an explicit algorithm allow-list,
required claims, and a key chosen by the algorithm's family so a public key can
never be used as an HMAC secret.

Refused at start: an HS secret under 32 bytes (RFC 7518 §3.2: at least the
hash's size), and a list with no usable algorithm.  Refused per token: a
``crit`` header (no extension is understood here, RFC 7515 §4.1.11) and times
(``exp``, ``nbf``, ``iat``) that are not numbers between 1970 and 9999.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from domain.ids import is_object_id
from domain.recent import Recent

MAX_TOKEN_LENGTH = 8192
MAX_NAME_LENGTH = 100
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"})
MIN_SECRET_BYTES = 32
# tokens verified lately, held by digest until they expire (~250 bytes each): the latest
# 16,384 at least, twice that at most (``Recent`` drops its older half at a time)
REMEMBERED_TOKENS = 16_384
LATEST_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z: later times are refused, not carried
TIME_CLAIMS = ("exp", "nbf", "iat")


class InvalidToken(Exception):
    pass


def display_name(value: object) -> str | None:
    """The ``name`` claim as others will see it: NFC text without control or
    formatting characters, at most ``MAX_NAME_LENGTH`` long; None when nothing is left."""
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in unicodedata.normalize("NFC", value) if unicodedata.category(ch)[0] != "C")
    text = " ".join(text.split())[:MAX_NAME_LENGTH]
    return text or None


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    role: str
    name: str | None
    expires_at: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class TokenRules:
    algorithms: tuple[str, ...]
    secret: str | None = None
    public_key: str | None = None
    issuer: str | None = None
    audience: str | None = None


class TokenVerifier:
    """Verifies tokens; one verified lately is known again by its bytes until it expires.

    A reconnect storm presents the same tokens again within seconds: checking a
    signature and parsing the claims is most of a handshake's own CPU.  What a token
    says cannot change while it is valid (no key changes while the process runs), so a
    digest of its bytes stands for it; its expiry is checked on every use."""

    def __init__(
        self, rules: TokenRules, *, remember: int = REMEMBERED_TOKENS, now: Callable[[], float] = time.time
    ) -> None:
        algorithms = tuple(a for a in rules.algorithms if a.lower() != "none")
        unknown = [a for a in algorithms if a not in HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS]
        if unknown:
            raise ValueError(f"unsupported JWT algorithms: {', '.join(unknown)}")
        if not algorithms:
            raise ValueError("JWT_ALGORITHMS names no usable algorithm: every token would be refused")
        if any(a in HMAC_ALGORITHMS for a in algorithms) and not rules.secret:
            raise ValueError("JWT_SECRET is required for HS* algorithms")
        if rules.secret and len(rules.secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (a random one: openssl rand -hex 32)"
            )
        if any(a in PUBLIC_KEY_ALGORITHMS for a in algorithms) and not rules.public_key:
            raise ValueError("JWT_PUBLIC_KEY is required for RS*/ES*/PS* algorithms")
        self._rules = rules
        self._algorithms = algorithms
        self._remember = remember
        self._now = now
        self._verified: Recent[bytes, Identity] = Recent(2 * remember)  # digest of a token -> what it says

    def _key_for(self, algorithm: str) -> str:
        key = self._rules.secret if algorithm in HMAC_ALGORITHMS else self._rules.public_key
        assert key is not None
        return key

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise InvalidToken("a token is required")
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token is too large")
        digest = hashlib.blake2b(token.encode(errors="surrogatepass"), digest_size=16).digest()
        known = self._verified.get(digest)
        if known is not None:
            if self._now() < known.expires_at:
                return known
            self._verified.pop(digest)
            raise InvalidToken("Signature has expired")  # PyJWT's words for it
        identity = self._verify(token)
        if self._remember > 0:
            self._verified.put(digest, identity)
        return identity

    def _verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if algorithm not in self._algorithms:
                raise InvalidToken("token algorithm is not allowed")
            if "crit" in header:
                raise InvalidToken("token has critical header parameters this server does not understand")
            required = ["exp", "sub"]
            required += ["aud"] if self._rules.audience is not None else []
            required += ["iss"] if self._rules.issuer is not None else []
            claims = jwt.decode(
                token,
                self._key_for(algorithm),
                algorithms=[algorithm],
                audience=self._rules.audience,
                issuer=self._rules.issuer,
                leeway=0,
                options={"require": required, "verify_aud": self._rules.audience is not None},
            )
        except InvalidToken:
            raise
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError) as exc:
            raise InvalidToken(str(exc) or "token is invalid") from exc
        for name in TIME_CLAIMS:
            value = claims.get(name)
            if name in claims and not _a_time(value):
                raise InvalidToken(f"{name} must be a time between 1970 and 9999")
        subject = claims.get("sub")
        if not is_object_id(subject):
            raise InvalidToken("sub must be an ObjectId")
        role = claims.get("role", "user")
        if role not in ("admin", "user"):
            raise InvalidToken("role must be admin or user")
        return Identity(str(subject).lower(), role, display_name(claims.get("name")), int(claims["exp"]))


def _a_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= LATEST_TIME


def issue_token(secret: str, user_id: str, *, role: str = "user", name: str | None = None, expires_at: int) -> str:
    """Mint an HS256 token: for ``--dev`` demo links and tests, never for production keys."""
    claims: dict[str, object] = {"sub": user_id, "role": role, "exp": expires_at}
    if name is not None:
        claims["name"] = name
    token: str = jwt.encode(claims, secret, algorithm="HS256")
    return token
