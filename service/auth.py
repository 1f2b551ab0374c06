"""JWT identity (contract §2) with python-jose: an explicit algorithm
allow-list, required claims, and a key chosen by the algorithm's family so a
public key can never be used as an HMAC secret."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from jose import jwt
from jose.exceptions import JOSEError

from domain.ids import is_object_id

MAX_TOKEN_LENGTH = 8192
MAX_NAME_LENGTH = 100
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"})


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
    def __init__(self, rules: TokenRules) -> None:
        algorithms = tuple(a for a in rules.algorithms if a.lower() != "none")
        unknown = [a for a in algorithms if a not in HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS]
        if unknown:
            raise ValueError(f"unsupported JWT algorithms: {', '.join(unknown)}")
        if any(a in HMAC_ALGORITHMS for a in algorithms) and not rules.secret:
            raise ValueError("JWT_SECRET is required for HS* algorithms")
        if any(a in PUBLIC_KEY_ALGORITHMS for a in algorithms) and not rules.public_key:
            raise ValueError("JWT_PUBLIC_KEY is required for RS*/ES*/PS* algorithms")
        self._rules = rules
        self._algorithms = algorithms

    def _key_for(self, algorithm: str) -> str:
        key = self._rules.secret if algorithm in HMAC_ALGORITHMS else self._rules.public_key
        assert key is not None
        return key

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise InvalidToken("a token is required")
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token is too large")
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if algorithm not in self._algorithms:
                raise InvalidToken("token algorithm is not allowed")
            claims = jwt.decode(
                token,
                self._key_for(algorithm),
                algorithms=[algorithm],
                audience=self._rules.audience,
                issuer=self._rules.issuer,
                options={
                    "require_exp": True,
                    "require_sub": True,
                    "require_aud": self._rules.audience is not None,
                    "require_iss": self._rules.issuer is not None,
                    "verify_aud": self._rules.audience is not None,
                    "leeway": 0,
                },
            )
        except InvalidToken:
            raise
        except (JOSEError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken(str(exc) or "token is invalid") from exc
        subject = claims.get("sub")
        if not is_object_id(subject):
            raise InvalidToken("sub must be an ObjectId")
        role = claims.get("role", "user")
        if role not in ("admin", "user"):
            raise InvalidToken("role must be admin or user")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            raise InvalidToken("exp must be a number")
        return Identity(str(subject).lower(), role, display_name(claims.get("name")), int(expires))


def issue_token(secret: str, user_id: str, *, role: str = "user", name: str | None = None, expires_at: int) -> str:
    """Mint an HS256 token: for ``--dev`` demo links and tests, never for production keys."""
    claims: dict[str, object] = {"sub": user_id, "role": role, "exp": expires_at}
    if name is not None:
        claims["name"] = name
    token: str = jwt.encode(claims, secret, algorithm="HS256")
    return token
