"""Write the shipped sample images: lessons/images/<class>_<n>.png.

They come from the generator's "sample" split (never used for training or
held-out accuracy): ``python scripts/make_samples.py [--per-class 2]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnn_model import synthetic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-class", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "lessons" / "images"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in synthetic.CLASSES:
        for number in range(1, args.per_class + 1):
            image = synthetic.sample_image(name, number, args.seed)
            image.save(args.out / f"{name}_{number}.png", optimize=True)
    print(f"wrote {len(synthetic.CLASSES) * args.per_class} samples to {args.out}")


if __name__ == "__main__":
    main()
