"""Core commands: ``fairgate run`` (the demo), ``serve``, ``init`` and ``load-sample``.

Data lives in ``./var`` of the current directory unless ``FAIRGATE_DATA_DIR`` or a database
URL says otherwise, so the commands work from any directory.
"""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from catalog.context import Context, open_context
from catalog.settings import Settings

console = Console(stderr=True)

HostOption = Annotated[str | None, typer.Option(help="address to listen on (default FAIRGATE_HOST or 127.0.0.1)")]
PortOption = Annotated[int | None, typer.Option(help="port to listen on (default FAIRGATE_PORT or 8000)")]
WorkersOption = Annotated[
    int,
    typer.Option(
        min=1,
        help="worker processes, balanced by the kernel (SO_REUSEPORT); one per core is a good start",
    ),
]


def effective_settings(host: str | None = None, port: int | None = None) -> Settings:
    """Settings from the environment, with an absolute data folder and command-line overrides.

    When no public ``FAIRGATE_BASE_URL`` is configured, the IRIs we publish follow the
    address we actually listen on, so links work on any port.
    """
    settings = Settings()
    update: dict[str, object] = {"data_dir": settings.data_dir.expanduser().resolve()}
    if host is not None:
        update["host"] = host
    if port is not None:
        update["port"] = port
    settings = settings.model_copy(update=update)
    if "base_url" not in settings.model_fields_set:
        shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        settings = settings.model_copy(update={"base_url": f"http://{shown}:{settings.port}"})
    return settings


def initialise(settings: Settings) -> Context:
    """Create the data folder and bring every database to its newest schema (catalog and consent)."""
    from consent.registry import ConsentRegistry

    ctx = open_context(settings)
    # The consent registry keeps its own database and pseudonym key; create both now so that a
    # fresh deployment does not first meet them on a steward's first request.
    ConsentRegistry.from_settings(settings).engine.dispose()
    return ctx


def ensure_sample(ctx: Context) -> int:
    """Load the sample catalog into an empty store; returns how many datasets were loaded."""
    if ctx.store.count(include_tombstones=True) > 0:
        return 0
    from catalog.models.samples import load_sample_models
    from catalog.models.store import models_of
    from catalog.samples import load_sample

    loaded = len(load_sample(ctx.store))
    load_sample_models(models_of(ctx))
    return loaded


def make_server(ctx: Context, *, log_level: str = "info") -> uvicorn.Server:
    """A uvicorn server for the app of ``ctx``, on ``ctx.settings.host``/``port``."""
    from catalog.app import create_app

    app = create_app(ctx.settings, context=ctx)
    config = uvicorn.Config(app, host=ctx.settings.host, port=ctx.settings.port, log_level=log_level)
    return uvicorn.Server(config)


def _serve(ctx: Context, workers: int = 1) -> None:
    s = ctx.settings
    console.print(f"[bold]fairgate[/bold] serving at [link={s.base_url}/]{s.base_url}/[/link]  (data in {s.data_dir})")
    if not s.steward_token:
        console.print("editing through the API is off: set FAIRGATE_STEWARD_TOKEN to switch it on")
    if workers == 1:
        make_server(ctx).run()
        return
    import functools

    from catalog.app import create_app
    from catalog.serving import ServingError, serve_workers

    console.print(f"{workers} worker processes")
    try:
        # Each worker opens its own context from the same settings (databases are already migrated).
        serve_workers(functools.partial(create_app, s), s.host, s.port, workers)
    except ServingError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    @app.command()
    def run(host: HostOption = None, port: PortOption = None) -> None:
        """Initialise ./var, load the sample catalog if the store is empty, and serve."""
        ctx = initialise(effective_settings(host, port))
        loaded = ensure_sample(ctx)
        if loaded:
            console.print(f"loaded the sample catalog: {loaded} datasets")
        _serve(ctx)

    @app.command()
    def serve(host: HostOption = None, port: PortOption = None, workers: WorkersOption = 1) -> None:
        """Serve the catalog as it is (no sample loading)."""
        _serve(initialise(effective_settings(host, port)), workers)

    @app.command()
    def init() -> None:
        """Create the data folder and the databases (idempotent)."""
        ctx = initialise(effective_settings())
        console.print(f"initialised {ctx.settings.data_dir}: {ctx.store.count()} datasets in the catalog store")

    @app.command("load-sample")
    def load_sample_command() -> None:
        """Load (or refresh) the 25-dataset sample catalog of the 2019 imaging programme."""
        from catalog.samples import load_sample

        ctx = initialise(effective_settings())
        results = load_sample(ctx.store)
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        console.print(f"sample catalog: {len(results)} datasets ({summary})")
        from catalog.models.samples import load_sample_models
        from catalog.models.store import models_of

        console.print(f"sample AI models: {len(load_sample_models(models_of(ctx)))}")
