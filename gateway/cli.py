"""``alarm-gateway`` command line: run the gateway and administer it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from gateway import __version__
from gateway.app import make_app, utc_now
from gateway.audit.export import ExportFormat, parse_bound, render
from gateway.audit.verify import verify_log
from gateway.auth import hash_password, token_hash
from gateway.backoffice.agents import parse_csv
from gateway.backoffice.personal import erase_personal_data, export_personal_data
from gateway.config.errors import ConfigError
from gateway.config.load import check_all, load_settings
from gateway.config.schema import Settings
from gateway.demo import run_demo
from gateway.ids import new_secret
from gateway.log import setup_logging
from gateway.phone import cli as phone_cli
from gateway.speech.errors import ModelDownloadError
from gateway.speech.models import check_model, describe, download_vosk_model, list_models
from gateway.store.errors import Conflict, NotFound
from gateway.store.records import Role
from gateway.store.store import Store
from gateway.voice import sip_identity

log = logging.getLogger("gateway")
SHOWN_PROBLEMS = 20  # audit verify lists the first breaks; the summary counts them all


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alarm-gateway", description=__doc__)
    parser.add_argument("--version", action="version", version=f"alarm-gateway {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", type=Path, help="TOML file (default: embedded defaults)")
        return p

    with_config(sub.add_parser("run", help="run the gateway"))
    demo = with_config(
        sub.add_parser("demo", help="run the gateway with a demo operator and a simulated phone")
    )
    demo.add_argument("--every", type=float, help="raise another demo alarm every N seconds")
    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("file", type=Path)

    device = sub.add_parser("device", help="manage phones").add_subparsers(
        dest="action", required=True
    )
    add_device = with_config(
        device.add_parser("add", help="register a phone; prints its token once")
    )
    add_device.add_argument("id", help="device identifier, e.g. the agent's badge number")
    add_device.add_argument(
        "--sip-uri", help="the phone's SIP identity, e.g. sip:agent42@example.org"
    )
    add_device.add_argument("--label", help="free text, e.g. the agent's name")
    add_device.add_argument("--tenant", help="the agent's organisation (see 'tenant add')")
    add_device.add_argument("--site", help="where the agent works, as dialplans match it")
    add_device.add_argument("--group", help="the agent's team, as dialplans match it")
    add_device.add_argument(
        "--language", choices=["fr", "en"], help="language the agent speaks on alarm calls"
    )
    for action, text in (
        ("rotate", "give a phone a new token, printed once; the old one stops working"),
        ("revoke", "refuse a lost or stolen phone's alarms and calls from now on"),
    ):
        with_config(device.add_parser(action, help=text)).add_argument("id", help="device id")

    models = with_config(sub.add_parser("models", help="list speech models and check they load"))
    models.add_argument("--no-load", action="store_true", help="only check files, do not load")
    models_sub = models.add_subparsers(dest="action")
    download = with_config(models_sub.add_parser("download", help="fetch a published Vosk model"))
    download.add_argument("name", help="e.g. vosk-model-small-fr-0.22")
    download.add_argument("--sha256", help="expected SHA-256 of the zip archive")

    phone_cli.configure(sub.add_parser("phone", help="simulate a lone-worker phone"))

    tenant = sub.add_parser("tenant", help="manage organisations").add_subparsers(
        dest="action", required=True
    )
    add_tenant = with_config(tenant.add_parser("add", help="create an organisation"))
    add_tenant.add_argument("name")
    add_tenant.add_argument(
        "--pilot",
        action="store_true",
        help="on trial: alarms handled end to end, never forwarded to the monitoring centre",
    )
    add_tenant.add_argument(
        "--licences", type=_licences, help="active devices allowed (default: unlimited)"
    )

    imports = sub.add_parser("import", help="bulk imports").add_subparsers(
        dest="action", required=True
    )
    import_agents = with_config(
        imports.add_parser(
            "agents", help="agents and devices from CSV; every row checked before any is written"
        )
    )
    import_agents.add_argument("file", type=Path, help="UTF-8 CSV (docs/backoffice.md)")
    import_agents.add_argument(
        "--partial", action="store_true", help="import the good rows even if others are bad"
    )
    import_agents.add_argument(
        "--dry-run", action="store_true", help="check the file and say what would change"
    )
    import_agents.add_argument(
        "--tokens-out",
        type=Path,
        help="write new devices' tokens and SIP passwords there (mode 600), not to stdout",
    )

    user = sub.add_parser("user", help="manage staff accounts").add_subparsers(
        dest="action", required=True
    )
    add_user = with_config(user.add_parser("add", help="create an operator, supervisor or admin"))
    add_user.add_argument("name")
    add_user.add_argument("--role", required=True, choices=[r.value for r in Role])
    add_user.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    add_user.add_argument(
        "--tenant",
        action="append",
        default=[],
        dest="tenants",
        help="a tenant the user may see (repeatable); none: centre-wide staff",
    )

    audit = sub.add_parser("audit", help="check and export the audit log").add_subparsers(
        dest="action", required=True
    )
    with_config(audit.add_parser("verify", help="check the hash chain; exit 1 if broken"))
    export = with_config(audit.add_parser("export", help="print audit entries (oldest first)"))
    export.add_argument("--from", dest="start", help="first day (2026-12-01) or time, UTC")
    export.add_argument("--to", dest="end", help="last day (included) or time (excluded), UTC")
    export.add_argument("--format", choices=[f.value for f in ExportFormat], default="csv")

    agent = sub.add_parser("agent", help="one agent's personal data").add_subparsers(
        dest="action", required=True
    )
    for action, text in (
        ("export", "print everything held about the agent as JSON (right of access)"),
        ("erase", "erase name, phone, notes, positions, transcripts and recordings"),
    ):
        with_config(agent.add_parser(action, help=text)).add_argument("id", help="agent id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        return _check_config(args.file)
    if args.command == "phone":
        return phone_cli.main(args)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"configuration refused:\n{exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log.level, settings.log.format)
    if args.command == "run":
        _run(settings)
        return 0
    if args.command == "demo":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_demo(settings, every_s=args.every))
        return 0
    if args.command == "models":
        return _models(settings, args)
    if args.command == "audit":
        return asyncio.run(_audit(settings, args))
    if args.command == "agent":
        return asyncio.run(_personal_data(settings, args.action, args.id))
    if args.command == "tenant":
        return asyncio.run(_add_tenant(settings, args.name, args.pilot, args.licences))
    if args.command == "import":
        return asyncio.run(_import_agents(settings, args))
    if args.command == "device" and args.action == "add":
        return asyncio.run(_add_device(settings, args))
    if args.command == "device":
        return asyncio.run(_change_device(settings, args.action, args.id))
    password = _read_password(args.password_stdin)
    if password is None:
        return 2
    return asyncio.run(
        _add_user(settings, args.name, Role(args.role), password, frozenset(args.tenants))
    )


def _check_config(path: Path) -> int:
    """The configuration file and the dialplans it uses; every issue with its line."""
    issues = check_all(path)
    for issue in issues:
        print(issue, file=sys.stderr)
    if issues:
        return 1
    print(f"{path}: OK")
    return 0


def _models(settings: Settings, args: argparse.Namespace) -> int:
    directory = settings.speech.models_dir
    if args.action == "download":
        try:
            path = download_vosk_model(args.name, directory, sha256=args.sha256)
        except ModelDownloadError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"installed {path}")
        return 0
    broken = 0
    for info in list_models(directory):
        checked = info if args.no_load else check_model(info)
        broken += not checked.usable
        print(describe(checked))
    return 1 if broken else 0


def _run(settings: Settings) -> None:
    app = make_app(settings)
    url = f"http://{settings.http.host}:{settings.http.port}"

    def started(_message: str) -> None:
        # everything loaded so far lives for the whole run: keep the collector off it,
        # so collections stay short and alarm requests see no long pauses
        gc.freeze()
        log.info("alarm-gateway listening", extra={"url": url, "version": __version__})

    web.run_app(
        app,
        host=settings.http.host,
        port=settings.http.port,
        print=started,
        access_log=None,
        handle_signals=True,
    )


async def _open_store(settings: Settings) -> Store:
    if not settings.database.url:
        settings.gateway.data_dir.mkdir(parents=True, exist_ok=True)
    return await Store.open(
        settings.database_url(),
        reference_base=settings.gateway.public_url,
        sqlite_synchronous=settings.database.sqlite_synchronous,
    )


async def _add_device(settings: Settings, args: argparse.Namespace) -> int:
    device_id, sip_uri = args.id, args.sip_uri
    if sip_uri is not None:
        identity = sip_identity(sip_uri)
        if not identity.startswith(("sip:", "sips:")):
            print(
                f"--sip-uri must be a SIP URI such as sip:agent42@example.org, got {sip_uri!r}",
                file=sys.stderr,
            )
            return 2
        sip_uri = identity
    store = await _open_store(settings)
    token = new_secret()
    try:
        await store.add_device(
            device_id,
            token_hash(token),
            utc_now(),
            sip_uri=sip_uri,
            label=args.label,
            language=args.language,
            tenant=args.tenant,
            site=args.site,
            agent_group=args.group,
        )
        await _record(store, "admin.device.create", device_id, tenant=args.tenant)
    except Conflict as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(token)
    print(f"device {device_id!r} registered; the token above is shown only once", file=sys.stderr)
    return 0


async def _change_device(settings: Settings, action: str, device_id: str) -> int:
    """Rotate or revoke; a running gateway notices within its token cache time (5 s)."""
    store = await _open_store(settings)
    token = new_secret()
    try:
        if action == "rotate":
            await store.rotate_device_token(device_id, token_hash(token))
        else:
            await store.revoke_device(device_id, utc_now())
        await _record(store, f"admin.device.{action}", device_id)
    except (NotFound, Conflict) as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        await store.close()
    if action == "rotate":
        print(token)
        print(f"device {device_id!r}: new token above, shown only once", file=sys.stderr)
    else:
        print(f"device {device_id!r} revoked", file=sys.stderr)
    return 0


def _licences(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a count of devices (0 or more), got {value!r}")
    return int(value)


async def _add_tenant(settings: Settings, name: str, pilot: bool, licences: int | None) -> int:
    store = await _open_store(settings)
    try:
        await store.add_tenant(name, utc_now(), pilot=pilot, licences=licences)
        details: dict[str, object] = {"pilot": pilot, "licences": licences}
        await _record(store, "admin.tenant.create", name, tenant=name, details=details)
    except Conflict as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(
        f"tenant {name!r} created{' (pilot: nothing forwarded)' if pilot else ''}", file=sys.stderr
    )
    return 0


async def _import_agents(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when every row is good, 1 when any is refused, 2 when the file is unreadable."""
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.file}: cannot read it: {exc}", file=sys.stderr)
        return 2
    store = await _open_store(settings)
    try:
        result = await store.import_agents(
            parse_csv(text),
            utc_now(),
            realm=settings.sip.realm,
            partial=args.partial,
            dry_run=args.dry_run,
        )
        if result.applied:
            await _record(store, "admin.import.agents", args.file.name, details=result.counts())
    finally:
        await store.close()
    for error in result.plan.errors:
        print(f"{args.file}:{error.line}: {error.column or 'row'}: {error.reason}", file=sys.stderr)
    print(result.summary(), file=sys.stderr)
    if result.credentials:
        secrets = result.credentials_csv()
        if args.tokens_out is None:
            print(secrets, end="")
        else:
            _write_private(args.tokens_out, secrets)
            print(f"new devices' secrets written to {args.tokens_out}", file=sys.stderr)
    return 1 if result.plan.errors else 0


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds secrets)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8") as out:
        out.write(text)


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("passwords differ", file=sys.stderr)
            return None
    if len(password) < 8:
        print("password must have at least 8 characters", file=sys.stderr)
        return None
    return password


async def _add_user(
    settings: Settings, name: str, role: Role, password: str, tenant_names: frozenset[str]
) -> int:
    store = await _open_store(settings)
    try:
        await store.add_user(
            name, role, hash_password(password), utc_now(), tenant_names=tenant_names
        )
        details: dict[str, object] = {"role": role.value, "tenants": sorted(tenant_names)}
        await _record(store, "admin.user.create", name, details=details)
    except Conflict as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        await store.close()
    seeing = ", ".join(sorted(tenant_names)) or "every tenant"
    print(f"{role.value} {name!r} created, seeing {seeing}", file=sys.stderr)
    return 0


async def _personal_data(settings: Settings, action: str, agent_id: str) -> int:
    """``agent export`` (JSON on stdout) or ``agent erase``; both audited."""
    store = await _open_store(settings)
    data_dir = settings.gateway.data_dir
    try:
        if action == "export":
            found = await export_personal_data(store, data_dir, agent_id)
            if found is None:
                print(f"no agent {agent_id!r}", file=sys.stderr)
                return 1
            sys.stdout.write(found.model_dump_json(indent=2) + "\n")
            details: dict[str, object] = {"alarms": len(found.alarms)}
            await _record(store, "privacy.export", agent_id, details=details)
            return 0
        try:
            done = await erase_personal_data(store, data_dir, agent_id, utc_now())
        except NotFound as exc:
            print(exc, file=sys.stderr)
            return 1
        details = {"alarms": len(done.alarms), "recordings": len(done.recordings_removed)}
        await _record(store, "privacy.erase", agent_id, details=details)
    finally:
        await store.close()
    print(
        f"agent {agent_id!r} erased: {len(done.alarms)} alarms kept anonymous, "
        f"{len(done.recordings_removed)} recordings deleted",
        file=sys.stderr,
    )
    return 0


def _cli_actor() -> str:
    """``cli:<os user>``: who ran an administration command on this machine."""
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:  # no login name (a container's anonymous uid)
        return f"cli:uid{os.getuid()}"


async def _record(
    store: Store,
    action: str,
    target: str,
    *,
    tenant: str | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """Audit an administration command: actor ``cli:<os user>``, source ``local``."""
    await store.append_audit(
        utc_now(),
        _cli_actor(),
        action,
        source="local",
        target=target,
        tenant=tenant,
        details=details,
    )


async def _audit(settings: Settings, args: argparse.Namespace) -> int:
    """``audit verify`` (exit 1 naming the first broken entry) or ``audit export``."""
    if args.action == "verify":
        return await _audit_verify(settings)
    try:
        start = parse_bound("--from", args.start) if args.start else None
        end = parse_bound("--to", args.end, end=True) if args.end else None
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    store = await _open_store(settings)
    try:
        entries = await store.audit_entries(start=start, end=end)
        sys.stdout.write(render(entries, ExportFormat(args.format)))
        details = {
            "from": args.start,
            "to": args.end,
            "format": args.format,
            "entries": len(entries),
        }
        await _record(store, "export.audit", "audit_log", details=details)
    finally:
        await store.close()
    return 0


async def _audit_verify(settings: Settings) -> int:
    store = await _open_store(settings)
    try:
        result = await verify_log(store)
    finally:
        await store.close()
    if not result.intact:
        print(result.summary(), file=sys.stderr)
        for problem in result.problems[:SHOWN_PROBLEMS]:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(result.summary())
    print(f"last entry hash: {result.last_hash}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
