"""Cases of float-for-money."""

from __future__ import annotations

from tests.audit.cases._case import SERVERS, Case, case

CASES: list[Case] = [
    case("float-money", "float-for-money",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY, total_amount FLOAT NOT NULL, weight FLOAT)"],
         {("orders", ("total_amount",))}, apply_fix_on=SERVERS),
    # A shipping cost named for what it pays (Northwind's orders.freight) is money by its sibling and its values.
    case("float-money-by-siblings-and-values", "float-for-money",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY, unit_price REAL, freight REAL, weight REAL)",
          "INSERT INTO orders VALUES (1, 14.0, 32.38, 0.35), (2, 9.8, 11.61, 1.25), (3, 42.4, 65.83, 2.125)"],
         {("orders", ("unit_price",)), ("orders", ("freight",))}, apply_fix_on=SERVERS),
    # A discount holding fractions 0..1 is a ratio, whatever its name says.
    case("float-discount-fraction-is-not-money", "float-for-money",
         ["CREATE TABLE order_details (id INTEGER PRIMARY KEY, unit_price REAL, discount REAL)",
          "INSERT INTO order_details VALUES (1, 14.0, 0), (2, 9.8, 0.15), (3, 42.4, 0.05), (4, 7.7, 0.25)"],
         {("order_details", ("unit_price",))}, apply_fix_on=SERVERS),
    case("float-shipping-cost-is-money", "float-for-money",
         ["CREATE TABLE shipments (id INTEGER PRIMARY KEY, shipping_cost REAL, distance REAL)",
          "INSERT INTO shipments VALUES (1, 12.5, 3.1415), (2, 7.25, 12.75)"],
         {("shipments", ("shipping_cost",))}, apply_fix_on=SERVERS),
]
