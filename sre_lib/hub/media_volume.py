"""The hub's media volume: a small ext4 image loop-mounted at ``<state>/media``, so the media server has a
disk of its own to report. Mounting needs root; when it is refused the hub carries on without it (media then
reads "not monitored") and says why.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

__all__ = ["MEDIA_SIZE_MB", "is_mounted", "mount_media", "unmount_media"]

MEDIA_SIZE_MB = 32


def is_mounted(path: Path) -> bool:
    """Whether ``path`` is a mount point now (read from /proc/self/mounts, so a stale state is seen)."""
    target = str(path.resolve()) if path.exists() else str(path)
    with contextlib.suppress(OSError), open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts if len(line.split()) > 1)
    return False


def mount_media(state_dir: Path) -> tuple[Path | None, str]:
    """Make and mount the image; returns (mount point, "") or (None, why not)."""
    image, mount_point = state_dir / "media.img", state_dir / "media"
    mount_point.mkdir(exist_ok=True)
    if is_mounted(mount_point):
        return mount_point, ""
    if os.geteuid() != 0:
        return None, "mounting a loop device needs root"
    with open(image, "wb") as handle:
        handle.truncate(MEDIA_SIZE_MB * 1024 * 1024)
    for argv in (
        ["mkfs.ext4", "-q", "-F", "-m", "0", str(image)],
        ["mount", "-o", "loop", str(image), str(mount_point)],
    ):
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            image.unlink(missing_ok=True)
            return None, f"{argv[0]}: {exc}"
        if result.returncode != 0:
            image.unlink(missing_ok=True)
            return None, f"{argv[0]} refused: {(result.stderr or result.stdout).strip()[-200:]}"
    (mount_point / "uploads").mkdir(exist_ok=True)
    return mount_point, ""


def unmount_media(state_dir: Path) -> bool:
    """Unmount (lazily if busy) and delete the image; True if something was mounted."""
    mount_point = state_dir / "media"
    mounted = is_mounted(mount_point)
    if mounted:
        result = subprocess.run(["umount", str(mount_point)], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, text=True, timeout=60)
    (state_dir / "media.img").unlink(missing_ok=True)
    return mounted
