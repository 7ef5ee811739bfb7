"""Cases of derived-total-mismatch."""

from __future__ import annotations

from tests.audit.cases._case import ALL, Case, case

CASES: list[Case] = [
    case("total-disagrees-with-its-lines", "derived-total-mismatch",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY, total_amount NUMERIC(10, 2))",
          "CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders (id), "
          "quantity INTEGER NOT NULL, unit_price NUMERIC(10, 2) NOT NULL)",
          # 2 is off by a cent; 3 has no lines and a total of 0; 4 has no total at all (not judged)
          "INSERT INTO orders VALUES (1, 20.00), (2, 30.01), (3, 0), (4, NULL)",
          "INSERT INTO order_items VALUES (1, 1, 2, 10.00), (2, 2, 3, 10.00), (3, 4, 1, 5.00)"],
         {("orders", ("total_amount",))}, apply_fix_on=ALL),
    case("float-total-of-inferred-lines", "derived-total-mismatch",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY, total FLOAT)",
          "CREATE TABLE order_lines (id INTEGER PRIMARY KEY, order_id INTEGER, qty INTEGER, price FLOAT)",
          # 3 x 19.99 is not exactly 59.97 in binary floating point: rounding, not a mismatch
          "INSERT INTO orders VALUES (1, 59.97), (2, 1019.97), (3, 15.00)",
          "INSERT INTO order_lines VALUES (1, 1, 3, 19.99), (2, 2, 3, 339.99), (3, 3, 1, 5.00)"],
         {("orders", ("total",))}, apply_fix_on=ALL),
    case("total-beside-tax-is-not-judged", "derived-total-mismatch",
         ["CREATE TABLE invoices (id INTEGER PRIMARY KEY, tax NUMERIC(10, 2), total NUMERIC(10, 2))",
          "CREATE TABLE invoice_lines (id INTEGER PRIMARY KEY, invoice_id INTEGER REFERENCES invoices (id), "
          "quantity INTEGER, unit_price NUMERIC(10, 2))",
          "INSERT INTO invoices VALUES (1, 2.00, 12.00)", "INSERT INTO invoice_lines VALUES (1, 1, 1, 10.00)"]),
    case("totals-that-agree", "derived-total-mismatch",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY, order_total NUMERIC(12, 2))",
          "CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders (id), "
          "quantity INTEGER, price NUMERIC(10, 2), list_price NUMERIC(10, 2))",
          "INSERT INTO orders VALUES (1, 25.50), (2, 0.10)",
          "INSERT INTO order_items VALUES (1, 1, 2, 10.00, 12.00), (2, 1, 1, 5.50, 6.00), (3, 2, 1, 0.10, 1.00)"]),
]
