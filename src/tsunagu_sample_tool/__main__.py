"""``python -m tsunagu_sample_tool --config var/drill_tool/config.json --port 8001``"""

from __future__ import annotations

import argparse

from tsunagu_sample_tool.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="計算ドリル: a sample LTI 1.3 tool")
    parser.add_argument("--config", required=True, help="JSON written by 'tsunagu demo setup'")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    create_app(args.config).run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
