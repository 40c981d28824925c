#!/usr/bin/env python3
"""The `rust-version` Cargo.toml declares must be at least the highest `rust_version` of the
locked dependencies (from `cargo metadata --format-version 1 --locked`), so it cannot drift:
a user with the declared toolchain can build the locked tree. Exit 1 (with both versions
named) when it is lower; exit 0 and print the two versions otherwise."""
import json
import subprocess
import sys


def parse(v):
    return tuple(int(x) for x in (v.split(".") + ["0", "0"])[:3])


def main():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    members = set(meta["workspace_members"])
    declared = None
    highest, who = (0, 0, 0), None
    for p in meta["packages"]:
        rv = p.get("rust_version")
        if p["id"] in members:
            if rv is None:
                print(f"error: workspace crate {p['name']} declares no rust-version", file=sys.stderr)
                return 1
            declared = max(declared or (0, 0, 0), parse(rv))
            continue
        if rv and parse(rv) > highest:
            highest, who = parse(rv), f"{p['name']} {p['version']}"
    show = lambda v: ".".join(map(str, v))
    if declared is None:
        print("error: no workspace crate found in cargo metadata", file=sys.stderr)
        return 1
    if declared < highest:
        print(
            f"error: Cargo.toml declares rust-version {show(declared)}, but the locked {who} "
            f"needs Rust {show(highest)}; raise [workspace.package] rust-version",
            file=sys.stderr,
        )
        return 1
    print(f"rust-version {show(declared)} covers the locked dependencies (highest: {who}, {show(highest)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
