"""List release tags of a repository, newest first."""
import subprocess
from pathlib import Path


def release_tags(repo: Path, prefix: str = "v") -> list[str]:
    """Tags that start with `prefix`, sorted by version, newest first."""
    if not (repo / ".git").exists():
        raise FileNotFoundError(f"{repo} is not a git repository")
    result = subprocess.run(
        ["git", "-C", str(repo), "tag", "--list", f"{prefix}*", "--sort=-v:refname"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return [line for line in result.stdout.splitlines() if line.strip()]


def latest_release(repo: Path) -> str | None:
    tags = release_tags(repo)
    return tags[0] if tags else None


if __name__ == "__main__":
    import sys

    print(latest_release(Path(sys.argv[1] if len(sys.argv) > 1 else ".")) or "no release yet")
