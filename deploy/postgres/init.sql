-- Tables for the compose stack's Debezium connector (topic prefix cdc.oltp_dabi).
CREATE TABLE customers (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    email      text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    id          bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    amount      numeric(12, 2) NOT NULL,
    status      text NOT NULL DEFAULT 'new',
    ordered_on  date NOT NULL DEFAULT current_date
);
-- Deletes carry the whole old row, not only the key.
ALTER TABLE customers REPLICA IDENTITY FULL;
ALTER TABLE orders REPLICA IDENTITY FULL;

INSERT INTO customers (name, email) VALUES ('Grace', 'grace@example.com'), ('Linus', 'linus@example.com');
INSERT INTO orders (customer_id, amount, status) VALUES (1, 19.99, 'paid'), (2, 250.00, 'new');
