"""Service configuration: a YAML file for settings, the environment for secrets."""
import os
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Settings:
    listen_port: int
    database_url: str
    log_level: str = "INFO"
    workers: int = 4


def load(path: Path) -> Settings:
    with path.open("r", encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping")
    port = int(raw.get("listen_port", 8080))
    if not 0 < port < 65536:
        raise ValueError(f"{path}: listen_port out of range")
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        raise RuntimeError("DATABASE_URL is not set")
    return Settings(
        listen_port=port,
        database_url=database_url,
        log_level=str(raw.get("log_level", "INFO")).upper(),
        workers=max(1, int(raw.get("workers", 4))),
    )
