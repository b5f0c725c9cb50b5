"""Staff accounts (admin): who may log in, with which role, seeing which tenants.

A tenant admin manages only accounts within their own tenants: they see the
users whose tenants are all theirs, and may give a new or existing user only
tenants of theirs (never none, which would make the user centre-wide).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from aiohttp import web
from pydantic import AfterValidator, BaseModel, Field

from gateway.api.errors import ConflictError, Forbidden, NotFoundError
from gateway.api.keys import CLOCK, STORE
from gateway.api.request import parse_json, read_body, require_user
from gateway.api.schemas import Body
from gateway.api.tenancy import tenant_scope
from gateway.audit.record import audit
from gateway.auth import hash_password
from gateway.backoffice.schemas import ScopeName
from gateway.store.errors import Conflict
from gateway.store.records import Role, User

routes = web.RouteTableDef()
MIN_PASSWORD = 8


def _distinct(names: list[str]) -> list[str]:
    return sorted(set(names))


TenantNames = Annotated[
    list[ScopeName],
    Field(max_length=100, description="Tenants the user may see; empty: centre-wide"),
    AfterValidator(_distinct),
]


class UserIn(Body):
    name: ScopeName
    role: Role
    password: str = Field(min_length=MIN_PASSWORD, max_length=1024)
    tenants: TenantNames = Field(default_factory=list)


class TenantsIn(Body):
    tenants: TenantNames


class UserOut(BaseModel):
    name: str
    role: Role
    tenants: list[str] = Field(description="Empty: centre-wide staff")
    disabled: bool

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            name=user.name, role=user.role, tenants=sorted(user.tenants), disabled=user.disabled
        )


class UserList(BaseModel):
    users: list[UserOut]


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(model.model_dump(mode="json"), status=status)


def _may_give(request: web.Request, tenants: list[str]) -> None:
    """403 unless the admin may give exactly these tenants (a tenant admin: some of theirs)."""
    scope = tenant_scope(request)
    if not scope.covers(tenants):
        mine = ", ".join(sorted(scope.tenants or ()))
        raise Forbidden(f"tenants: you may only give users some of your tenants ({mine})")


async def _visible_user(request: web.Request, name: str) -> User:
    """The named account if the admin manages it; 404 otherwise (as if it did not exist)."""
    found = next((u for u in await request.app[STORE].users() if u.name == name), None)
    if found is None or not tenant_scope(request).covers(found.tenants):
        raise NotFoundError(f"no user {name!r}")
    return found


@routes.get("/api/v1/users")
async def list_users(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    scope = tenant_scope(request)
    found = [u for u in await request.app[STORE].users() if scope.covers(u.tenants)]
    return _json(UserList(users=[UserOut.of(u) for u in found]))


@routes.post("/api/v1/users")
async def add_user(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    body = await parse_json(request, UserIn)
    _may_give(request, body.tenants)
    store = request.app[STORE]
    password_hash = await asyncio.to_thread(hash_password, body.password)
    try:
        await store.add_user(
            body.name,
            body.role,
            password_hash,
            request.app[CLOCK](),
            tenant_names=frozenset(body.tenants),
        )
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    details = {"role": body.role.value, "tenants": body.tenants}
    await audit(request, "admin.user.create", target=body.name, details=details)
    return _json(UserOut.of(await _visible_user(request, body.name)), 201)


@routes.put("/api/v1/users/{name}/tenants")
async def set_tenants(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    body = await parse_json(request, TenantsIn)
    user = await _visible_user(request, request.match_info["name"])
    _may_give(request, body.tenants)
    try:
        await request.app[STORE].set_user_tenants(user.id, frozenset(body.tenants))
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    details = {"before": sorted(user.tenants), "after": body.tenants}
    await audit(request, "admin.user.tenants", target=user.name, details=details)
    return _json(UserOut.of(await _visible_user(request, user.name)))


@routes.post("/api/v1/users/{name}/disable")
async def disable(request: web.Request) -> web.Response:
    """Refuse the account's logins and end its sessions at once (idempotent)."""
    admin = await require_user(request, Role.ADMIN)
    await read_body(request)
    user = await _visible_user(request, request.match_info["name"])
    if user.id == admin.id:
        raise ConflictError("you cannot disable your own account")
    await request.app[STORE].disable_user(user.id, request.app[CLOCK]())
    await audit(request, "admin.user.disable", target=user.name)
    return web.Response(status=204)
