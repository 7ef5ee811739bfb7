"""One case per rule behaviour: setup SQL, the findings the rule must make, and whether its fix can be applied
to show the rule quiet afterwards. Plain SQL that runs on every engine unless a case names its engines."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL = ("sqlite", "postgresql", "mariadb")
SERVERS = ("postgresql", "mariadb")


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    setup: tuple[str, ...]
    expected: frozenset = field(default_factory=frozenset)
    engines: tuple[str, ...] = ALL
    apply_fix_on: tuple[str, ...] = ()  # engines where running fix.sql must leave the rule quiet


def case(id, rule, setup, expected=(), engines=ALL, apply_fix_on=()):
    return Case(id, rule, tuple(setup), frozenset(expected), engines, apply_fix_on)


ARTISTS = "CREATE TABLE artist (id INTEGER PRIMARY KEY, name VARCHAR(50))"

CASES = [
    case("pk-missing", "missing-primary-key", ["CREATE TABLE log (happened_at VARCHAR(30), message VARCHAR(200))"],
         {("log", ())}, apply_fix_on=SERVERS),
    case("pk-unique-not-null-is-enough", "missing-primary-key",
         ["CREATE TABLE codes (code VARCHAR(10) NOT NULL UNIQUE)"]),
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
    case("unindexed-fk", "unindexed-foreign-key",
         ["CREATE TABLE carts (id INTEGER PRIMARY KEY)",
          "CREATE TABLE cart_items (id INTEGER PRIMARY KEY, cart_id INTEGER REFERENCES carts (id))"],
         {("cart_items", ("cart_id",))}, engines=("sqlite", "postgresql"), apply_fix_on=("sqlite", "postgresql")),
    case("fk-indexed-by-leading-columns-any-order", "unindexed-foreign-key",
         ["CREATE TABLE a (x INTEGER NOT NULL, y INTEGER NOT NULL, PRIMARY KEY (x, y))",
          "CREATE TABLE b (id INTEGER PRIMARY KEY, x INTEGER, y INTEGER, z INTEGER, "
          "FOREIGN KEY (x, y) REFERENCES a (x, y))",
          "CREATE INDEX ix_b_y_x_z ON b (y, x, z)"], engines=("sqlite", "postgresql")),
    case("fk-not-indexed-by-trailing-columns", "unindexed-foreign-key",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)",
          "CREATE TABLE orders (id INTEGER PRIMARY KEY, status VARCHAR(10), user_id INTEGER REFERENCES users (id))",
          "CREATE INDEX ix_orders_status_user_id ON orders (status, user_id)"],
         {("orders", ("user_id",))}, engines=("sqlite", "postgresql")),
    case("fk-partial-index-not-null-counts", "unindexed-foreign-key",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)",
          "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id))",
          "CREATE INDEX ix_orders_user_id ON orders (user_id) WHERE user_id IS NOT NULL"],
         engines=("postgresql",)),
    case("fk-other-partial-index-does-not", "unindexed-foreign-key",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)",
          "CREATE TABLE orders (id INTEGER PRIMARY KEY, paid BOOLEAN, user_id INTEGER REFERENCES users (id))",
          "CREATE INDEX ix_orders_user_id ON orders (user_id) WHERE paid"],
         {("orders", ("user_id",))}, engines=("postgresql",)),
    case("fk-type-mismatch", "foreign-key-type-mismatch",
         ["CREATE TABLE users (id BIGINT PRIMARY KEY)",
          "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id))"],
         # MariaDB refuses such a key outright, and SQLite has affinities rather than sizes.
         {("orders", ("user_id",))}, engines=("postgresql",), apply_fix_on=("postgresql",)),
    case("fk-not-valid", "foreign-key-not-enforced",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)", "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
          "user_id INTEGER)", "ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) "
          "REFERENCES users (id) NOT VALID"], {("orders", ("user_id",))}, engines=("postgresql",),
         apply_fix_on=("postgresql",)),
    case("fk-sqlite-pragma-off", "foreign-key-not-enforced",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)",
          "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id))"],
         {("orders", ())}, engines=("sqlite",)),
    case("unique-natural-key", "missing-unique-constraint",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL)"], {("users", ("email",))},
         apply_fix_on=ALL),
    case("unique-on-lower-email-counts", "missing-unique-constraint",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL)",
          # SQLAlchemy cannot reflect expression indexes on SQLite: there the snapshot says so (not_analysed).
          "CREATE UNIQUE INDEX uq_users_email ON users (lower(email))"], engines=("postgresql",)),
    case("unique-line-items", "missing-unique-constraint",
         ["CREATE TABLE carts (id INTEGER PRIMARY KEY)", "CREATE TABLE products (id INTEGER PRIMARY KEY)",
          "CREATE TABLE cart_items (id INTEGER PRIMARY KEY, cart_id INTEGER NOT NULL, product_id INTEGER NOT NULL, "
          "quantity INTEGER)"], {("cart_items", ("cart_id", "product_id"))}, apply_fix_on=ALL),
    case("nullable-unique", "nullable-unique-column",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) UNIQUE)"], {("users", ("email",))},
         apply_fix_on=SERVERS),
    case("not-null-missing", "missing-not-null",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, stock INTEGER, "
          "description VARCHAR(200))"], {("products", ("stock",))}, apply_fix_on=SERVERS),
    case("check-missing", "missing-check-constraint",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL, price NUMERIC(10, 2) NOT NULL)"],
         {("products", ("stock",)), ("products", ("price",))}, apply_fix_on=SERVERS),
    case("check-present", "missing-check-constraint",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL, "
          "CONSTRAINT ck_products_stock CHECK (stock >= 0))"]),
    case("check-present-column-level", "missing-check-constraint",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL CHECK (stock >= 0))"]),
    case("float-money", "float-for-money",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY, total_amount FLOAT NOT NULL, weight FLOAT)"],
         {("orders", ("total_amount",))}, apply_fix_on=SERVERS),
    case("money-type", "money-type", ["CREATE TABLE invoices (id INTEGER PRIMARY KEY, total MONEY)"],
         {("invoices", ("total",))}, engines=("postgresql",), apply_fix_on=("postgresql",)),
    case("timestamp-without-zone", "timestamp-without-time-zone",
         ["CREATE TABLE events (id INTEGER PRIMARY KEY, at TIMESTAMP, at_tz TIMESTAMP WITH TIME ZONE)"],
         {("events", ("at",))}, engines=("postgresql",), apply_fix_on=("postgresql",)),
    case("sentinel-default", "sentinel-default-on-reference",
         ["CREATE TABLE categories (id INTEGER PRIMARY KEY)",
          "CREATE TABLE products (id INTEGER PRIMARY KEY, category_id INTEGER NOT NULL DEFAULT 0, "
          "stock INTEGER DEFAULT 0)"], {("products", ("category_id",))}, engines=SERVERS, apply_fix_on=SERVERS),
    case("redundant-index", "redundant-index",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, status VARCHAR(10))",
          "CREATE INDEX ix_orders_user_id ON orders (user_id)",
          "CREATE INDEX ix_orders_user_id_status ON orders (user_id, status)",
          "CREATE UNIQUE INDEX uq_orders_status_user ON orders (status, user_id)",
          "CREATE INDEX ix_orders_status ON orders (status)"],
         {("orders", ("user_id",)), ("orders", ("status",))}, apply_fix_on=ALL),
    case("unique-index-is-not-redundant-beside-wider", "redundant-index",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100), name VARCHAR(50))",
          "CREATE UNIQUE INDEX uq_users_email ON users (email)", "CREATE INDEX ix_users_email_name ON users "
          "(email, name)"]),
    case("partial-index-is-not-redundant", "redundant-index",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, paid BOOLEAN)",
          "CREATE INDEX ix_orders_user_paid ON orders (user_id) WHERE paid",
          "CREATE INDEX ix_orders_user_id_id ON orders (user_id, id)"], engines=("sqlite", "postgresql")),
    case("fk-violations-sqlite-pragma-off", "foreign-key-violations",
         ["CREATE TABLE carts (id INTEGER PRIMARY KEY)", "CREATE TABLE cart_items (id INTEGER PRIMARY KEY, "
          "cart_id INTEGER REFERENCES carts (id))", "INSERT INTO carts VALUES (1)",
          "INSERT INTO cart_items VALUES (1, 1), (2, 5), (3, NULL)"],
         {("cart_items", ("cart_id",))}, engines=("sqlite",), apply_fix_on=("sqlite",)),
    case("fk-violations-not-valid", "foreign-key-violations",
         ["CREATE TABLE carts (id INTEGER PRIMARY KEY)", "CREATE TABLE cart_items (id INTEGER PRIMARY KEY, "
          "cart_id INTEGER)", "INSERT INTO carts VALUES (1)", "INSERT INTO cart_items VALUES (1, 1), (2, 5)",
          "ALTER TABLE cart_items ADD CONSTRAINT fk_items_cart FOREIGN KEY (cart_id) REFERENCES carts (id) NOT VALID"],
         {("cart_items", ("cart_id",))}, engines=("postgresql",), apply_fix_on=("postgresql",)),
    case("fk-violations-none", "foreign-key-violations",
         ["CREATE TABLE carts (id INTEGER PRIMARY KEY)", "CREATE TABLE cart_items (id INTEGER PRIMARY KEY, "
          "cart_id INTEGER REFERENCES carts (id))", "INSERT INTO carts VALUES (1)",
          "INSERT INTO cart_items VALUES (1, 1)"]),
    case("duplicate-cart-lines", "duplicate-rows",
         ["CREATE TABLE cart_items (id INTEGER PRIMARY KEY, cart_id INTEGER, product_id INTEGER)",
          "INSERT INTO cart_items VALUES (1, 1, 7), (2, 1, 7), (3, 1, 8), (4, 2, 7), (5, NULL, 7), (6, NULL, 7)"],
         {("cart_items", ("cart_id", "product_id"))}, apply_fix_on=ALL),
    case("duplicate-emails", "duplicate-rows",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(50))",
          "INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x'), (3, 'a@x'), (4, NULL), (5, NULL)"],
         {("users", ("email",))}, apply_fix_on=ALL),
    case("negative-stock", "check-violations",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER, price NUMERIC(10, 2))",
          "INSERT INTO products VALUES (1, 5, 1.00), (2, -1, 2.00), (3, NULL, -3.00)"],
         {("products", ("stock",)), ("products", ("price",))}),
    case("check-not-valid-violated", "check-violations",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER)", "INSERT INTO products VALUES (1, -2)",
          "ALTER TABLE products ADD CONSTRAINT ck_stock CHECK (stock >= 0) NOT VALID"],
         {("products", ())}, engines=("postgresql",)),
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
    case("table-without-index", "table-without-index", ["CREATE TABLE log (message VARCHAR(200))"],
         {("log", ())}, apply_fix_on=SERVERS),
]
