"""``python -m brandcrawl.replica [--port 8000]``: serve every replica marketplace until Ctrl-C."""

import argparse
import threading

from brandcrawl.replica.server import ReplicaMarketplace


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m brandcrawl.replica", description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with ReplicaMarketplace(port=args.port) as replica:
        print(f"replica marketplace on {replica.base_url}")
        for app in replica.apps.values():
            print(f"  {app.name}: {', '.join(replica.site_url(site) + '/' for site in app.sites)}")
        print(f"  e.g. {replica.site_url('ebay.fr')}/sch/i.html?_nkw=gallimard&_sop=10")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped")


if __name__ == "__main__":
    main()
