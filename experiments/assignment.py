"""Which arm a member is in: a stable hash of (experiment, member), the same
in every process and after every restart, with no table to look up."""

import hashlib


def arm_of(experiment_id: int, user_id: int, share: float) -> str | None:
    """ "a" or "b", each for half of the members in ``share``; None for the
    members outside the experiment. Two independent parts of the digest
    decide "in or out" and "which arm", so a share changed mid-way moves
    members in or out without moving anyone between arms."""
    digest = hashlib.sha256(f"experiment:{experiment_id}:member:{user_id}".encode()).digest()
    if int.from_bytes(digest[:8], "big") / 2**64 >= share:
        return None
    return "a" if int.from_bytes(digest[8:16], "big") % 2 == 0 else "b"
