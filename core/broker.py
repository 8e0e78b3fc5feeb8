"""The embedded broker: kombu's filesystem transport under one directory."""

from pathlib import Path


def filesystem_transport_options(directory: Path) -> dict:
    """Transport options keeping every file of the broker under ``directory``
    (created here), so web processes and a worker on one machine share it."""
    folders = {name: directory / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        # kombu's default is ./control, relative to whatever the cwd is.
        "control_folder": str(folders["control"]),
        "store_processed": False,
    }
