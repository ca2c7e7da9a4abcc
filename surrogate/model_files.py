"""Model folders: the file format of a trained surrogate (one network or an ensemble), its card, and loading.

A network's folder holds `model.safetensors` (weights), `model.json` (the card: architecture, normalisation,
training method, dataset hash, step, metrics, lineage), `train_state.pt` (optimiser state, loaded with
weights_only), `metrics.jsonl` (the training log) and `coverage.npz` (its training shapes). An ensemble's
folder holds a `model.json` that lists its members (`members`: folder names such as member-0) and the members
as network folders. Every load checks the files before using them and never unpickles.
"""

from __future__ import annotations

import json
from pathlib import Path

from geometry.io import atomic_write, atomic_write_text
from surrogate.model import Config, Surrogate
from surrogate.paths import portable
from surrogate.window import Window

FORMAT = 1  # of a network's card
ENSEMBLE_FORMAT = 1  # of an ensemble's card
WEIGHTS, CARD, STATE, METRICS = "model.safetensors", "model.json", "train_state.pt", "metrics.jsonl"


class ModelError(ValueError):
    """A model folder that cannot be used: missing, corrupt, or made for another window or format."""


def save_model(folder: Path, model: Surrogate, card: dict) -> None:
    """Weights, then the card (each atomically): a folder with a card always has the weights it describes."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(folder / WEIGHTS, lambda tmp: save_file(weights, str(tmp)))
    write_card(folder, card)


def write_card(folder: Path, card: dict) -> None:
    atomic_write_text(folder / CARD, json.dumps(card, indent=1, default=float) + "\n")


def read_card(folder: str | Path) -> dict:
    """A folder's model.json; ModelError naming the file when it is missing or not JSON."""
    path = Path(folder) / CARD
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} is not a valid model card ({exc})") from None
    if not isinstance(card, dict):
        raise ModelError(f"{path} is not a valid model card (not a JSON object)")
    return card


def load_model(folder: str | Path, device: str = "cpu") -> tuple[Surrogate, dict]:
    """One network's folder -> (the network in eval mode, its card); both files checked before use."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    if is_ensemble(folder):
        raise ModelError(
            f"{folder} is an ensemble; this needs one network: "
            f"give one of its members (e.g. {folder / 'member-0'})"
        )
    if not (folder / CARD).is_file() or not (folder / WEIGHTS).is_file():
        raise ModelError(
            f"{folder} is not a model folder (it needs {CARD} and {WEIGHTS}; train one with `dragopt train`)"
        )
    card = read_card(folder)
    try:
        config = Config.from_dict(card["architecture"])
    except (KeyError, TypeError) as exc:
        raise ModelError(f"{folder / CARD} is not a valid model card ({exc})") from None
    if card.get("format") != FORMAT:
        raise ModelError(
            f"{folder} has model format {card.get('format')!r}; this dragopt reads format {FORMAT}"
        )
    model = Surrogate(config)
    try:
        model.load_state_dict(load_file(str(folder / WEIGHTS)))
    except (SafetensorError, RuntimeError, OSError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ModelError(f"{folder / WEIGHTS} is corrupt or does not match its card ({reason})") from None
    return model.to(device).eval(), card


def is_ensemble(folder: str | Path) -> bool:
    """Whether the folder's card lists members (a folder without a readable card is not an ensemble)."""
    try:
        return "members" in json.loads((Path(folder) / CARD).read_text())
    except (OSError, ValueError, TypeError):
        return False


def member_folders(folder: str | Path) -> list[Path]:
    """The folders of an ensemble's members, or [folder] for one network."""
    folder = Path(folder)
    if not is_ensemble(folder):
        return [folder]
    return [folder / n for n in read_card(folder)["members"]]


def load_ensemble(folder: str | Path, device: str = "cpu") -> tuple[list[Surrogate], dict]:
    """An ensemble's folder -> (its member networks, the ensemble's card); ModelError naming the problem."""
    folder = Path(folder)
    card = read_card(folder)
    try:
        names = list(card["members"])
    except (KeyError, TypeError) as exc:
        raise ModelError(f"{folder / CARD} is not a valid ensemble card ({exc})") from None
    if card.get("format") != ENSEMBLE_FORMAT or len(names) < 2:
        raise ModelError(
            f"{folder / CARD}: format {card.get('format')!r} with {len(names)} members; "
            f"need format {ENSEMBLE_FORMAT} with 2 or more"
        )
    models = [load_model(folder / n, device)[0] for n in names]
    if len({json.dumps(m.config.window, sort_keys=True) for m in models}) > 1:
        raise ModelError(f"the members of {folder} predict on different windows; an ensemble needs one")
    return models, card


def load(folder: str | Path, device: str = "cpu") -> tuple[list[Surrogate], dict]:
    """Any model folder -> (its networks: one, or an ensemble's members; the folder's card)."""
    if is_ensemble(folder):
        return load_ensemble(folder, device)
    model, card = load_model(folder, device)
    return [model], card


def check_compatible(card: dict, manifest: dict) -> None:
    """A model and a dataset (its manifest) must share the window's grid (where the network predicts); how far
    the bodies reach may differ (a model trained on compact bodies is still evaluated on them)."""
    w_model, w_data = card["architecture"].get("window"), manifest["settings"]["window"]
    if w_model is None or Window.from_dict(w_model).grid() != Window.from_dict(w_data).grid():
        raise ModelError(
            f"model and dataset windows differ (model {w_model}, dataset {w_data}); use matching ones"
        )


def lineage_of(card: dict, folder: str | Path) -> list[dict]:
    """The start model's own lineage plus one record of it: what a fine-tuned model was built from."""
    t = card.get("train", {})
    # cards written before they were portable held absolute paths
    inherited = [{**e, "model": portable(e["model"])} if "model" in e else e for e in card.get("lineage", [])]
    return [
        *inherited,
        {
            "model": portable(folder),
            "method": t.get("method"),
            "steps": card.get("step"),
            "batch": t.get("batch"),
            "lr": t.get("lr"),
            "field_weight": t.get("field_weight"),
            "wall_s": card.get("wall_s"),
            "hardware": card.get("hardware"),
            "dataset": card.get("dataset", {}).get("settings_hash"),
        },
    ]


def record_metrics(folder: str | Path, key: str, metrics: dict) -> None:
    """Store metrics under `key` in a model's card (a network's or an ensemble's), e.g. its test-set
    metrics."""
    card = read_card(folder)
    card[key] = metrics
    write_card(Path(folder), card)


def saved_step(folder: Path) -> int:
    """The step of the checkpoint in `folder` (0 when there is none)."""
    try:
        return int(read_card(folder).get("step", 0))
    except (ModelError, ValueError):
        return 0
