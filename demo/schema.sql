-- A small SMILE-like logistics database: facilities hold batches of materials; stock movements
-- record what enters and leaves.
DROP DATABASE IF EXISTS smile;
CREATE DATABASE smile;
USE smile;
CREATE TABLE provinces (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL);
CREATE TABLE facilities (
  id INT PRIMARY KEY, name VARCHAR(128) NOT NULL, province_id INT NOT NULL,
  kind ENUM('hospital','puskesmas','warehouse') NOT NULL, opened DATE, active BIT(1) NOT NULL DEFAULT b'1');
CREATE TABLE materials (
  id INT PRIMARY KEY, code CHAR(12) NOT NULL, name VARCHAR(255) NOT NULL,
  unit_price DECIMAL(18,4) NOT NULL, currency CHAR(3) NOT NULL DEFAULT 'IDR', attrs JSON);
CREATE TABLE exchange_rates (currency CHAR(3) PRIMARY KEY, usd_rate DECIMAL(18,8) NOT NULL);
CREATE TABLE batches (
  id BIGINT UNSIGNED PRIMARY KEY, material_id INT NOT NULL, code VARCHAR(32) NOT NULL,
  expires DATE NOT NULL, created_at DATETIME(6) NOT NULL);
CREATE TABLE stock_movements (
  id BIGINT AUTO_INCREMENT PRIMARY KEY, facility_id INT NOT NULL, batch_id BIGINT UNSIGNED NOT NULL,
  qty INT NOT NULL, note TEXT, moved_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3));
INSERT INTO provinces VALUES (11,'Aceh'),(31,'DKI Jakarta'),(32,'Jawa Barat'),(35,'Jawa Timur'),(51,'Bali');
INSERT INTO facilities VALUES
  (1,'RSUD Banda Aceh',11,'hospital','2001-04-01',1),(2,'Puskesmas Menteng',31,'puskesmas','1998-07-15',1),
  (3,'Gudang Farmasi Bandung',32,'warehouse','2010-01-10',1),(4,'Puskesmas Kuta',51,'puskesmas',NULL,1),
  (5,'RS Surabaya',35,'hospital','1985-03-30',0);
INSERT INTO materials VALUES
  (1,'VAC-BCG-001','BCG vaccine 20 doses',12500.5000,'IDR','{"cold_chain": true, "doses": 20}'),
  (2,'VAC-MR-002','Measles-Rubella vaccine',3.1000,'USD','{"cold_chain": true, "doses": 10}'),
  (3,'SYR-ADS-005','Auto-disable syringe 0.5 ml',850.2500,'IDR',NULL),
  (4,'PAR-500','Paracetamol 500 mg',0.0210,'EUR','{"form": "tablet"}');
INSERT INTO exchange_rates VALUES ('IDR',0.00006300),('USD',1.00000000),('EUR',1.08000000);
