"""The ``frolic`` command."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from frolic.config import ALL_ROLES, Settings
from frolic.errors import FrolicError
from frolic.monitoring.logs import configure_logging

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    # The click that typer builds its commands with (its own copy, not the click package).
    from typer._click import Command, Context

# Subcommands that live in modules ``frolic serve`` must not import (numpy, the simulator),
# as "module:attribute"; the group loads one when it runs or when help lists it.
LAZY = {
    "simulate": "frolic.sim.cli:simulate",
    "reconcile": "frolic.reconcile.cli:reconcile",
    "verify": "frolic.fairness.cli:verify",
}
# Where installed tooling (frolic-tools: ``bench``) adds its subcommands: a function or a
# typer.Typer per entry point.
PLUGINS = "frolic.commands"


class LazyGroup(TyperGroup):
    """``frolic``'s commands, with LAZY's and the plugins' loaded on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        names = super().list_commands(ctx)
        return names + [n for n in _loaders() if n not in names]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and (found := _loaders().get(cmd_name)) is not None:
            command = _as_command(cmd_name, found.load())
            self.add_command(command, cmd_name)
        return command


def _loaders() -> dict[str, EntryPoint]:
    from importlib.metadata import EntryPoint, entry_points

    found = {name: EntryPoint(name, target, PLUGINS) for name, target in LAZY.items()}
    for plugin in entry_points(group=PLUGINS):
        found.setdefault(plugin.name, plugin)
    return found


def _as_command(name: str, loaded: object) -> Command:
    """The click command typer would have built had ``loaded`` been registered at import."""
    holder = typer.Typer(add_completion=False)
    if isinstance(loaded, typer.Typer):
        holder.add_typer(loaded, name=name)
    elif callable(loaded):
        holder.command(name=name)(loaded)
    else:
        raise TypeError(f"{name}: {loaded!r} is neither a function nor a typer.Typer")
    return typer.main.get_group(holder).commands[name]


app = typer.Typer(
    cls=LazyGroup,
    help="Frolic: instant-win games with a prize budget that is never overspent.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def load_settings(**overrides: object) -> Settings:
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    configure_logging(settings.log_level, settings.log_format)
    return settings.with_local_secrets()


def fail(exc: FrolicError) -> typer.Exit:
    typer.secho(f"error: {exc.detail}", err=True, fg=typer.colors.RED)
    return typer.Exit(1)


def _cluster_shape(value: str | None) -> str | None:
    from frolic.stack.redis_cluster import Shape

    if value is None:
        return None
    try:
        return str(Shape.parse(value))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


RedisCluster = Annotated[
    str | None,
    typer.Option(
        callback=_cluster_shape,
        help="Start a Redis Cluster of M masters with R replicas each (3x1) instead of one "
        "Redis, when FROLIC_REDIS_URL is unset (FROLIC_STACK_REDIS_CLUSTER).",
    ),
]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    role: Annotated[
        list[str] | None, typer.Option(help="Run only this role (repeatable): api.")
    ] = None,
    redis_cluster: RedisCluster = None,
) -> None:
    """Run Frolic. With no FROLIC_*_URL set, it starts its own servers first."""
    from frolic.serve import serve as run

    roles = tuple(role or ALL_ROLES)
    unknown = [r for r in roles if r not in ALL_ROLES]
    if unknown:
        raise typer.BadParameter(f"unknown role {unknown[0]!r}; roles: {', '.join(ALL_ROLES)}")
    settings = load_settings(host=host, port=port, stack_redis_cluster=redis_cluster)
    try:
        run(settings, [r for r in ALL_ROLES if r in roles])
    except FrolicError as exc:
        raise fail(exc) from exc


@app.command()
def migrate(
    down: Annotated[
        str | None, typer.Option(help="Downgrade to this revision ('base' for none).")
    ] = None,
) -> None:
    """Bring the database schema to the latest revision (or down to --down)."""
    from frolic.db import migrate as migrations
    from frolic.stack import Stack

    settings = load_settings()
    try:
        with Stack(settings) as endpoints:
            url = endpoints.database_url
            if down is None:
                migrations.upgrade(url)
            else:
                migrations.downgrade(url, down)
    except FrolicError as exc:
        raise fail(exc) from exc
    typer.echo(f"schema at {down or migrations.head()}")


@app.command()
def token(
    user: Annotated[str, typer.Option(help="The player's external id (the token's sub).")],
    ttl: Annotated[int, typer.Option(help="Seconds until it expires.")] = 3600,
) -> None:
    """Mint a player token for local use."""
    from frolic.auth.tokens import mint_player_token

    try:
        typer.echo(mint_player_token(load_settings(), user, ttl_seconds=ttl))
    except FrolicError as exc:
        raise fail(exc) from exc


@app.command()
def stack(redis_cluster: RedisCluster = None) -> None:
    """Start only the embedded servers and print the settings that reach them."""
    from frolic.serve import stop_on_sigterm
    from frolic.stack import Stack

    settings = load_settings(stack_redis_cluster=redis_cluster)
    try:
        with stop_on_sigterm(), Stack(settings) as endpoints:
            for name, value in endpoints.as_env().items():
                typer.echo(f"export {name}={value}")
            sys.stdout.flush()
            while True:
                time.sleep(3600)
    except FrolicError as exc:
        raise fail(exc) from exc
    except KeyboardInterrupt:
        pass


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    players_per_second: Annotated[
        float, typer.Option(min=0, max=500, help="Plays a second from simulated players.")
    ] = 2.0,
    minutes: Annotated[
        float, typer.Option(min=1, max=7 * 24 * 60, help="Length of each demo game.")
    ] = 30.0,
    budget: Annotated[
        int, typer.Option(min=2, max=100_000, help="Coupons in each demo game.")
    ] = 300,
) -> None:
    """Run Frolic with a demo game, simulated players, the dashboard and a playable page."""
    from frolic.demo.runner import DemoPlan, run
    from frolic.serve import serve

    settings = load_settings(port=port)
    try:
        run(settings, DemoPlan(players_per_second, minutes, budget), serve, echo=typer.echo)
    except FrolicError as exc:
        raise fail(exc) from exc
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    app()
