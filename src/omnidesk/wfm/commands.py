"""``omnidesk wfm ...``: the staffing calculator on the command line (no database: pure figures)."""

from __future__ import annotations

import click

from omnidesk.wfm import erlang


def _row(label: str, s: erlang.Staffing) -> str:
    abandon = "—" if s.model == "erlang_c" else f"{s.p_abandon:.3f}"
    return (
        f"{label:<30} {s.agents:>6}  {s.service_level:>13.3f}  {s.asa:>9.1f} s  {s.p_wait:>7.3f}  {abandon:>10}  "
        f"{s.occupancy:>9.3f}"
    )


@click.group()
def wfm() -> None:
    """Workforce management: staffing figures (Erlang C / Erlang A)."""


@wfm.command()
@click.option("--contacts", type=click.FloatRange(min=0), required=True, help="contacts offered in the interval")
@click.option("--interval", type=click.IntRange(min=1), default=30, show_default=True, help="interval (minutes)")
@click.option("--aht", type=click.FloatRange(min=0, min_open=True), required=True, help="average handle time (s)")
@click.option("--patience", type=click.FloatRange(min=0, min_open=True), default=None, help="mean patience (s)")
@click.option("--target", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.8, show_default=True)
@click.option("--within", type=click.FloatRange(min=0), default=20, show_default=True, help="threshold (s)")
@click.option("--max-abandon", type=click.FloatRange(0, 1), default=None, help="cap on P(abandon) (Erlang A)")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True, help="chats per agent")
def staffing(
    contacts: float,
    interval: int,
    aht: float,
    patience: float | None,
    target: float,
    within: float,
    max_abandon: float | None,
    concurrency: int,
) -> None:
    """Required agents for a service-level target, with expected service level, ASA and abandonment.

    Service level and abandonment are over offered contacts, ASA over answered ones (docs/wfm.md). With
    --concurrency, AHT must be the handle time measured at that concurrency and the figures are per chat slot."""
    rate = contacts / (interval * 60)
    click.echo(
        f"offered load {rate * aht:.2f} erlangs ({contacts:g} contacts / {interval} min, AHT {aht:g} s"
        + (f", patience {patience:g} s" if patience else "")
        + f"); target {target:.0%} answered within {within:g} s"
    )
    click.echo(
        f"{'':<30} {'agents':>6}  {'service level':>13}  {'ASA':>11}  {'P(wait)':>7}  {'P(abandon)':>10}  "
        f"{'occupancy':>9}"
    )
    c = erlang.required_agents(rate, aht, target, within, None)
    click.echo(_row("Erlang C (no abandonment)", c))
    if patience is not None:
        a = erlang.required_agents(rate, aht, target, within, patience, max_abandon=max_abandon)
        click.echo(_row("Erlang A (abandonment)", a))
        if c.agents != a.agents:
            # Erlang C is pessimistic and Erlang A optimistic against simulation (Robbins): show both staffings.
            click.echo(
                _row(f"Erlang A at {c.agents} agents", erlang.erlang_a_figures(c.agents, rate, aht, patience, within))
            )
        chosen = a
    else:
        chosen = c
    if concurrency > 1:
        click.echo(
            f"chat at concurrency {concurrency}: {-(-chosen.agents // concurrency)} agents for {chosen.agents} slots"
        )
    click.echo(f"required agents: {-(-chosen.agents // concurrency)}")
