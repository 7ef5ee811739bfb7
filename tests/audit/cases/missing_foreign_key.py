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

# Conventions real schemas use (issue 21): each flagged, and a clean twin where one exists.
CASES += [
    # A column with exactly the name of another table's distinctive key (a CamelCase schema created unquoted).
    case("fk-key-name-equality", "missing-foreign-key",
         ["CREATE TABLE customer (customerid INTEGER PRIMARY KEY)",
          "CREATE TABLE orders (orderid INTEGER PRIMARY KEY, customerid INTEGER NOT NULL)"],
         {("orders", ("customerid",))}, apply_fix_on=SERVERS),
    # A key named `code` says nothing about whose code it is: a currency's own code is no reference to country.
    case("fk-generic-key-name-is-quiet", "missing-foreign-key",
         ["CREATE TABLE country (code VARCHAR(2) PRIMARY KEY)",
          "CREATE TABLE currency (id INTEGER PRIMARY KEY, code VARCHAR(3) NOT NULL)"]),
    # No separators at all: split on the table names, a role before the table.
    case("fk-separator-free-names", "missing-foreign-key",
         ["CREATE TABLE address (addressid INTEGER PRIMARY KEY)",
          "CREATE TABLE salesorder (salesorderid INTEGER PRIMARY KEY, billtoaddressid INTEGER, "
          "shiptoaddressid INTEGER)"],
         {("salesorder", ("billtoaddressid",)), ("salesorder", ("shiptoaddressid",))}),
    # A link table named after both ends whose columns say nothing about them.
    case("fk-link-table-named-after-both-ends", "missing-foreign-key",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)", "CREATE TABLE groups (id INTEGER PRIMARY KEY)",
          "CREATE TABLE user_group (a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (a, b))",
          "CREATE TABLE link_user_group (source INTEGER NOT NULL, target INTEGER NOT NULL)"],
         {("user_group", ("a",)), ("user_group", ("b",)), ("link_user_group", ("source",)),
          ("link_user_group", ("target",))}, apply_fix_on=SERVERS),
    # A line table named after its parent, whose quantity is no second reference to it.
    case("fk-quantity-in-a-table-named-after-a-parent-is-quiet", "missing-foreign-key",
         ["CREATE TABLE invoice (id INTEGER PRIMARY KEY)",
          "CREATE TABLE invoice_line (id INTEGER PRIMARY KEY, invoice_id INTEGER REFERENCES invoice (id), "
          "quantity INTEGER NOT NULL, note VARCHAR(80))"]),
    # Alias/redirect tables: the new and old columns point at the table they are named after.
    case("fk-alias-table", "missing-foreign-key",
         ["CREATE TABLE artist (id INTEGER PRIMARY KEY)",
          "CREATE TABLE artist_alias (id INTEGER PRIMARY KEY, new INTEGER NOT NULL, old INTEGER NOT NULL)"],
         {("artist_alias", ("new",)), ("artist_alias", ("old",))}),
    # Extension tables sharing the parent's key: by the parent's name, or a key the database does not generate.
    case("fk-extension-table-named-key", "missing-foreign-key",
         ["CREATE TABLE post (id INTEGER PRIMARY KEY)",
          "CREATE TABLE post_stats (post INTEGER PRIMARY KEY, views INTEGER NOT NULL)"],
         {("post_stats", ("post",))}),
    case("fk-extension-table-shared-id", "missing-foreign-key",
         ["CREATE TABLE post (id INTEGER PRIMARY KEY)",
          "CREATE TABLE post_meta (id INTEGER NOT NULL PRIMARY KEY, summary VARCHAR(200))"],
         {("post_meta", ("id",))}, engines=SERVERS, apply_fix_on=SERVERS),
    # A lookup table named after the table that refers to it is no extension of it.
    case("fk-lookup-table-is-no-extension", "missing-foreign-key",
         ["CREATE TABLE vehicle_kind (id INTEGER NOT NULL PRIMARY KEY, label VARCHAR(20))",
          "CREATE TABLE vehicle (id INTEGER PRIMARY KEY, kind INTEGER REFERENCES vehicle_kind (id))"],
         engines=SERVERS),
    # A copy of a table's rows keyed like it (sakila's film_text, a search copy) is no reference to it.
    case("fk-copy-of-a-table-is-quiet", "missing-foreign-key",
         ["CREATE TABLE film (film_id INTEGER PRIMARY KEY, title VARCHAR(100), description TEXT)",
          "CREATE TABLE film_text (film_id INTEGER NOT NULL PRIMARY KEY, title VARCHAR(100), description TEXT)"]),
    # Families sharing a prefix: <p>_<x>.<last word of p> -> <p>.
    case("fk-prefix-family", "missing-foreign-key",
         ["CREATE TABLE forum_topic (id INTEGER PRIMARY KEY)",
          "CREATE TABLE forum_topic_reply (id INTEGER PRIMARY KEY, topic INTEGER NOT NULL)"],
         {("forum_topic_reply", ("topic",))}),
    # A column named by the last word(s) of a longer table name.
    case("fk-last-words-of-a-table-name", "missing-foreign-key",
         ["CREATE TABLE crm_customer (id INTEGER PRIMARY KEY)",
          "CREATE TABLE invoice (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL)"],
         {("invoice", ("customer_id",))}, apply_fix_on=SERVERS),
    # Two parents fit equally: reported once, as ambiguous, naming both (test_fk_inference checks the evidence).
    case("fk-two-equal-parents", "missing-foreign-key",
         ["CREATE TABLE crm_customer (id INTEGER PRIMARY KEY)", "CREATE TABLE shop_customer (id INTEGER PRIMARY KEY)",
          "CREATE TABLE invoice (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL)"],
         {("invoice", ("customer_id",))}),
    # Numbered roles.
    case("fk-numbered-roles", "missing-foreign-key",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)",
          "CREATE TABLE node (id INTEGER PRIMARY KEY, parent1 INTEGER, parent2 INTEGER)",
          "CREATE TABLE swap (id INTEGER PRIMARY KEY, user_1 INTEGER NOT NULL, user_id_2 INTEGER NOT NULL)"],
         {("node", ("parent1",)), ("node", ("parent2",)), ("swap", ("user_1",)), ("swap", ("user_id_2",))}),
    # A parent's composite key repeated column for column.
    case("fk-composite-reference", "missing-foreign-key",
         ["CREATE TABLE order_line (order_no INTEGER NOT NULL, line_no INTEGER NOT NULL, "
          "PRIMARY KEY (order_no, line_no))",
          "CREATE TABLE shipment_line (id INTEGER PRIMARY KEY, order_no INTEGER NOT NULL, line_no INTEGER NOT NULL)"],
         {("shipment_line", ("order_no", "line_no"))}, apply_fix_on=SERVERS),
    # Tables keyed by the same columns are siblings; a key holding a date is a period, not an identity.
    case("fk-composite-siblings-and-periods-are-quiet", "missing-foreign-key",
         ["CREATE TABLE dept_emp (emp INTEGER NOT NULL, dept INTEGER NOT NULL, PRIMARY KEY (emp, dept))",
          "CREATE TABLE dept_manager (emp INTEGER NOT NULL, dept INTEGER NOT NULL, PRIMARY KEY (emp, dept))",
          "CREATE TABLE salaries (emp INTEGER NOT NULL, from_date DATE NOT NULL, PRIMARY KEY (emp, from_date))",
          "CREATE TABLE titles (emp INTEGER NOT NULL, title VARCHAR(50) NOT NULL, from_date DATE NOT NULL, "
          "PRIMARY KEY (emp, title, from_date))"]),
    # An external id of another type than any key, and one of the same type whose values are no key.
    case("fk-external-ids-are-quiet", "missing-foreign-key",
         ["CREATE TABLE customer (id INTEGER PRIMARY KEY)", "INSERT INTO customer VALUES (1), (2), (3)",
          "CREATE TABLE payment (id INTEGER PRIMARY KEY, stripe_customer_id VARCHAR(40), legacy_id VARCHAR(20), "
          "external_id INTEGER)",
          "INSERT INTO payment VALUES (1, 'cus_9', 'L-1', 900001), (2, 'cus_8', 'L-2', 900002), "
          "(3, 'cus_7', 'L-3', 900003)"]),
    # Role names with no lexical tie, found from the values: every value is a key of the one table nothing else
    # refers to (Chinook's SupportRepId), and a tree over the table's own key (ReportsTo).
    case("fk-role-found-from-values", "missing-foreign-key",
         ["CREATE TABLE employee (id INTEGER PRIMARY KEY, reports_to INTEGER)",
          "INSERT INTO employee VALUES (1, NULL), (2, 1), (3, 2), (4, 2), (5, 2), (6, 1), (7, 6), (8, 6)",
          "CREATE TABLE customer (id INTEGER PRIMARY KEY, support_rep_id INTEGER)",
          "INSERT INTO customer VALUES (1, 3), (2, 5), (3, 3), (4, 4), (5, 4), (6, 5)",
          "CREATE TABLE invoice (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer (id))",
          "INSERT INTO invoice VALUES (1, 1), (2, 2), (3, 6)"],
         {("employee", ("reports_to",)), ("customer", ("support_rep_id",))}, apply_fix_on=SERVERS),
    # Traps for the values: a count of small integers and a version that are all valid keys of their own table
    # (they loop, or point at their own row), and a count named after nothing.
    case("fk-counts-and-versions-that-are-valid-keys-are-quiet", "missing-foreign-key",
         ["CREATE TABLE team (id INTEGER PRIMARY KEY, members INTEGER, version INTEGER)",
          "INSERT INTO team VALUES (1, 2, 1), (2, 3, 3), (3, 1, 1), (4, 2, 3)",
          "CREATE TABLE player (id INTEGER PRIMARY KEY, goals INTEGER NOT NULL)",
          "INSERT INTO player VALUES (1, 1), (2, 2), (3, 3), (4, 4)"]),
]

# Indexed columns no name ties to a table: weak guesses from the schema that the values must confirm.
CASES += [
    # Indexed, and exactly one entity nothing refers to: flagged without data, and the values agree.
    case("fk-unnamed-indexed-role", "missing-foreign-key",
         ["CREATE TABLE employee (id INTEGER PRIMARY KEY, boss INTEGER)",
          "CREATE INDEX ix_employee_boss ON employee (boss)",
          "INSERT INTO employee VALUES (1, NULL), (2, 1), (3, 1), (4, 2)",
          "CREATE TABLE customer (id INTEGER PRIMARY KEY, support_rep_id INTEGER)",
          "CREATE INDEX ix_customer_rep ON customer (support_rep_id)",
          "INSERT INTO customer VALUES (1, 2), (2, 3), (3, 4), (4, 3)",
          "CREATE TABLE invoice (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer (id))"],
         {("employee", ("boss",)), ("customer", ("support_rep_id",))}, apply_fix_on=SERVERS),
    # The same shapes refuted by the values: a session id that is no employee, a counter that loops.
    case("fk-unnamed-indexed-columns-refuted-by-values", "missing-foreign-key",
         ["CREATE TABLE employee (id INTEGER PRIMARY KEY, rank INTEGER)",
          "CREATE INDEX ix_employee_rank ON employee (rank)",
          "INSERT INTO employee VALUES (1, 2), (2, 3), (3, 1), (4, NULL)",
          "CREATE TABLE visit (id INTEGER PRIMARY KEY, session_id INTEGER)",
          "CREATE INDEX ix_visit_session ON visit (session_id)",
          "INSERT INTO visit VALUES (1, 88001), (2, 88002), (3, 88003), (4, 88004)"]),
]
