-- The SMILE dashboards' views (RisingWave-style materialized views, maintained incrementally by
-- `sluice run`; each becomes a ClickHouse table in smile_olap).

-- Stock balance per facility and material: join + sum, with updates and deletes retracting.
CREATE MATERIALIZED VIEW stock_balance AS
SELECT m.facility_id, b.material_id, sum(m.qty) AS qty, count(*) AS movements
FROM stock_movements m JOIN batches b ON b.id = m.batch_id
GROUP BY m.facility_id, b.material_id;

-- Batches expiring within 90 days of the demo date: join + filter on dates.
CREATE MATERIALIZED VIEW expiring_batches AS
SELECT b.id, b.code, b.expires, mat.name AS material, b.expires - DATE '2026-12-01' AS days_left
FROM batches b JOIN materials mat ON mat.id = b.material_id
WHERE b.expires < DATE '2026-12-01' + 90;

-- Monthly consumption per province: date_trunc + group by over a three-way join.
CREATE MATERIALIZED VIEW monthly_consumption AS
SELECT date_trunc('month', m.moved_at) AS month, p.name AS province, -sum(m.qty) AS consumed
FROM stock_movements m JOIN facilities f ON f.id = m.facility_id JOIN provinces p ON p.id = f.province_id
WHERE m.qty < 0
GROUP BY date_trunc('month', m.moved_at), p.name;

-- Value of every movement in USD: join to the rate table (a rate change revalues its rows).
CREATE MATERIALIZED VIEW movement_value_usd AS
SELECT m.id, m.facility_id, mat.currency, m.qty * mat.unit_price * r.usd_rate AS value_usd
FROM stock_movements m JOIN batches b ON b.id = m.batch_id JOIN materials mat ON mat.id = b.material_id
JOIN exchange_rates r ON r.currency = mat.currency;
