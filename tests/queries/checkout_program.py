"""One checkout of the reference shop, single-threaded: ``python checkout_program.py URL STRATEGY``."""

import sys

from sqlalchemy import create_engine

from examples.ecommerce.race_workload import CheckoutWorkload


def main(url: str, strategy: str) -> None:
    engine = create_engine(url)
    workload = CheckoutWorkload()
    (buyer,) = workload.create(engine, stock=5, buyers=1)
    print(workload.checkout(engine, buyer, strategy).status)
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
