"""Cases of missing-foreign-key."""

from __future__ import annotations

from tests.audit.cases._case import SERVERS, Case, case

ARTISTS = "CREATE TABLE artist (id INTEGER PRIMARY KEY, name VARCHAR(50))"

CASES: list[Case] = [
    case("fk-table-id", "missing-foreign-key",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)", "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
          "user_id INTEGER NOT NULL)"], {("orders", ("user_id",))}, apply_fix_on=SERVERS),
    case("fk-camel-case", "missing-foreign-key",
         ['CREATE TABLE "Artist" ("ArtistId" INTEGER PRIMARY KEY)',
          'CREATE TABLE "Album" ("AlbumId" INTEGER PRIMARY KEY, "ArtistId" INTEGER NOT NULL)'],
         {("Album", ("ArtistId",))}, engines=("sqlite", "postgresql")),
    case("fk-role-prefix", "missing-foreign-key",
         ["CREATE TABLE staff (id INTEGER PRIMARY KEY)", "CREATE TABLE area (id INTEGER PRIMARY KEY)",
          "CREATE TABLE store (id INTEGER PRIMARY KEY, manager_staff_id INTEGER, begin_area INTEGER)"],
         {("store", ("manager_staff_id",)), ("store", ("begin_area",))}),
    case("fk-bare-table-name", "missing-foreign-key",
         [ARTISTS, "CREATE TABLE track (id INTEGER PRIMARY KEY, artist INTEGER)"], {("track", ("artist",))}),
    case("fk-parent-self-reference", "missing-foreign-key",
         ["CREATE TABLE categories (id INTEGER PRIMARY KEY, parent_id INTEGER)"], {("categories", ("parent_id",))}),
    case("fk-table-type", "missing-foreign-key",
         ["CREATE TABLE vehicle_type (id INTEGER PRIMARY KEY)",
          "CREATE TABLE vehicle (id INTEGER PRIMARY KEY, type INTEGER)"], {("vehicle", ("type",))}),
    case("fk-not-polymorphic", "missing-foreign-key",
         ["CREATE TABLE posts (id INTEGER PRIMARY KEY)",
          "CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER, commentable_id INTEGER, "
          "commentable_type VARCHAR(20))",
          "CREATE TABLE commentables (id INTEGER PRIMARY KEY)"], {("comments", ("post_id",))}),
    case("fk-not-external-id-of-other-type", "missing-foreign-key",
         ["CREATE TABLE customers (id INTEGER PRIMARY KEY, stripe_customer_id VARCHAR(40))"]),
    case("fk-declared-is-quiet", "missing-foreign-key",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)",
          "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id))"]),
    # Counts sharing a word with a table (Northwind's products.units_on_order beside orders): their values are
    # not the target's keys, so they are not references and no clean-up deletes the rows.
    case("fk-count-is-not-a-reference", "missing-foreign-key",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY)",
          "INSERT INTO orders VALUES (10248), (10249), (10250), (10251), (10252)",
          "CREATE TABLE products (id INTEGER PRIMARY KEY, units_on_order INTEGER, units_in_stock INTEGER)",
          "CREATE TABLE stock (id INTEGER PRIMARY KEY)", "INSERT INTO stock VALUES (1), (2), (3)",
          "INSERT INTO products VALUES (1, 0, 39), (2, 40, 17), (3, 70, 13), (4, 0, 53), (5, 10, 120), "
          "(6, 30, 0)"]),
    case("fk-distinctive-key-name", "missing-foreign-key",
         ["CREATE TABLE employees (emp_no INTEGER PRIMARY KEY)",
          "CREATE TABLE titles (emp_no INTEGER NOT NULL, title VARCHAR(50) NOT NULL, PRIMARY KEY (emp_no, title))"],
         {("titles", ("emp_no",))}, apply_fix_on=SERVERS),
    case("fk-mysql-unsigned-parent", "missing-foreign-key",
         ["CREATE TABLE film (film_id INT UNSIGNED PRIMARY KEY)",
          "CREATE TABLE film_text (film_id INT NOT NULL PRIMARY KEY)"],
         {("film_text", ("film_id",))}, engines=("mariadb",), apply_fix_on=("mariadb",)),
]
