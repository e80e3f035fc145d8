"""Which models (and folders) a visitor of the explorer may make the server load.

Loading a model means reading any folder the server can see or downloading any hub id, so a
page reachable from other machines offers only the catalogue models already on the server (the
embedded SmolLM2 and those fetched) and the shipped adapters,
unless whoever started it said otherwise (``inbedder app --allow-any-model``). ``inbedder app``
passes its decision to the page in :data:`ENV`; the page itself (``streamlit run``) falls back
on the address Streamlit listens on. Light at import: ``inbedder --help`` imports the CLI.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

from inbedder.errors import InBedderError

ENV = "INBEDDER_APP_ALLOW_ANY_MODEL"
"""``1``: the page offers free model and adapter fields; ``0``: only the shipped choices."""

DEFAULT_ADAPTER_LABEL = "shipped InBedder adapter (default)"
NO_ADAPTER_LABEL = "none (the bare model)"


def is_local(host: str | None) -> bool:
    """True when ``host`` accepts connections from this machine only (localhost or a loopback IP).

    No host (Streamlit's default) listens on every interface, so it is not local.
    """
    if not host:
        return False
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allows_any_model(host: str | None, *, allow_any_model: bool = False) -> bool:
    """Whether a page served on ``host`` may load any model: on loopback, or when asked to."""
    return allow_any_model or is_local(host)


def environment(host: str, *, allow_any_model: bool = False) -> dict[str, str]:
    """The variables ``inbedder app`` sets for the page (added to the server's environment)."""
    return {ENV: "1" if allows_any_model(host, allow_any_model=allow_any_model) else "0"}


def page_allows_any_model(environ: Mapping[str, str], address: str | None) -> bool:
    """The page's decision: :data:`ENV` when ``inbedder app`` set it, else the listen address."""
    value = environ.get(ENV)
    if value is not None:
        return value.strip() == "1"
    return is_local(address)


def shipped_adapters() -> dict[str, str]:
    """Name → folder of each adapter shipped in ``inbedder.data`` (``data/adapters``)."""
    from inbedder.data import path

    root = path("adapters")
    if not root.is_dir():
        return {}
    return {
        folder.name: str(folder)
        for folder in sorted(root.iterdir())
        if (folder / "adapter_config.json").is_file()
    }


def adapter_choices(model: str | None = None) -> dict[str, str | None]:
    """Label → adapter value for the page's adapter picker when only shipped choices are allowed.

    ``None`` lets :func:`inbedder.models.loading.resolve_adapter` pick the shipped adapter of
    ``model`` (the default model when empty); ``"none"`` loads the bare model. Other shipped
    adapters are offered only beside the model they were trained on: an adapter names its base,
    and loading it with no model would load (and perhaps download) that base.
    """
    from inbedder.models.loading import NO_ADAPTER

    own = _catalogue_adapters()
    chosen = _catalogue_name(model)
    others = {name: folder for name, folder in shipped_adapters().items()
              if name not in own and _catalogue_name(_adapter_base(folder)) == chosen}
    return {DEFAULT_ADAPTER_LABEL: None, NO_ADAPTER_LABEL: NO_ADAPTER, **others}


def _catalogue_adapters() -> set[str]:
    """Folder names of the adapters the catalogue pairs with its models (each model's default)."""
    from inbedder.models.catalogue import catalogue

    return {Path(entry.adapter).name for entry in catalogue().values() if entry.adapter}


def _catalogue_name(model: str | None) -> str | None:
    """The catalogue name of ``model`` (empty: the default model), or the text itself when it has none."""
    from inbedder.models.catalogue import default_model, find

    entry = find(model or default_model())
    return entry.name if entry is not None else model


def _adapter_base(folder: str) -> str | None:
    """The base model an adapter folder names (peft's ``base_model_name_or_path``), if readable."""
    import json

    try:
        return json.loads((Path(folder) / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError):
        return None


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def fetched_catalogue_models() -> list[str]:
    """The catalogue's registry models already fetched and converted on this server.

    A page others can reach offers these too, but never starts a download of a gigabyte for them.
    """
    from inbedder.models.catalogue import catalogue, status

    return [name for name, entry in catalogue().items() if entry.from_registry and status(entry)["converted"]]


def offered_models() -> list[str]:
    """The catalogue models this server loads without a download: the embedded SmolLM2 and those
    fetched here, the default first when it is among them."""
    from inbedder.models.catalogue import EMBEDDED_MODEL, default_model

    default = default_model()
    return sorted([EMBEDDED_MODEL, *fetched_catalogue_models()], key=lambda name: name != default)


def check_model_choice(model: str | None, adapter: str | None, *, allow_any: bool) -> None:
    """Refuse, in one line, a model or adapter outside the shipped choices of a restricted page."""
    if allow_any:
        return
    from inbedder.models.loading import NO_ADAPTER

    fix = ("this explorer is reachable from other machines, so it loads only the embedded model, the catalogue "
           "models fetched on this server and the shipped adapters; to load {} start it with "
           "`inbedder app --allow-any-model` (or on localhost)")
    offered, chosen = offered_models(), _catalogue_name(model)
    if chosen not in offered:  # the default too, until it is fetched: never a download for a visitor
        shown = f"model {_shown(model)}" if model else f"the default model {chosen} (not fetched here)"
        raise InBedderError(fix.format(shown))
    if adapter in (None, ""):
        return
    allowed = {value for value in adapter_choices(model).values() if value is not None}
    shipped = {Path(folder).resolve() for folder in shipped_adapters().values()}
    if adapter not in allowed and Path(adapter).expanduser().resolve() not in shipped:
        raise InBedderError(fix.format(f"adapter {_shown(adapter)}"))
    if not model and adapter != NO_ADAPTER:  # an adapter alone loads the base model it names
        base = _catalogue_name(_adapter_base(adapter))
        if base not in offered:
            raise InBedderError(fix.format(f"adapter {_shown(adapter)} (its base model {base} is not fetched here)"))


def check_server_folders(*, allow_any: bool) -> None:
    """Refuse, in one line, reading or writing a folder on the server from a page others can reach.

    A path typed into the page names any folder the server can see, as a model path does, so
    the same rule applies; such a page saves and loads clusterings as .zip downloads and uploads.
    """
    if not allow_any:
        raise InBedderError("this explorer is reachable from other machines, so it reads and writes no folders on "
                            "the server; download the clustering as a .zip and upload it instead, or start it with "
                            "`inbedder app --allow-any-model` (or on localhost)")
