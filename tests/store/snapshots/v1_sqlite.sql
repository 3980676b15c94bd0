-- The staging store's schema at version 1 (sqlite), as dotsync's first release
-- created it (dotsync/store/schema.py of that release, compiled by SQLAlchemy).
CREATE TABLE certificates (
	certificate_id TEXT NOT NULL, 
	recipient_email TEXT, 
	code TEXT, 
	amount TEXT, 
	currency TEXT, 
	link TEXT, 
	expires_at TEXT, 
	campaign_id TEXT, 
	updated_at TEXT, 
	PRIMARY KEY (certificate_id)
);
CREATE TABLE customers (
	customer_id TEXT NOT NULL, 
	email TEXT, 
	first_name TEXT, 
	last_name TEXT, 
	mobile_number TEXT, 
	country TEXT, 
	email_type TEXT, 
	opt_in_type TEXT, 
	email_consent TEXT, 
	sms_consent TEXT, 
	store TEXT, 
	locale TEXT, 
	data_fields TEXT, 
	updated_at TEXT, 
	deleted_at TEXT, 
	PRIMARY KEY (customer_id)
);
CREATE TABLE dotsync_meta (
	name VARCHAR(64) NOT NULL, 
	value TEXT, 
	PRIMARY KEY (name)
);
CREATE TABLE ledger (
	entity VARCHAR(32) NOT NULL, 
	"key" VARCHAR(512) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	source_hash VARCHAR(32), 
	payload_hash VARCHAR(32), 
	attempts INTEGER NOT NULL, 
	error_code TEXT, 
	error_field TEXT, 
	error_message TEXT, 
	dotdigital_ref TEXT, 
	detail TEXT, 
	run_id VARCHAR(64), 
	first_seen_at DATETIME, 
	updated_at DATETIME, 
	sent_at DATETIME, 
	PRIMARY KEY (entity, "key")
);
CREATE INDEX ix_ledger_entity_state ON ledger (entity, state);
CREATE TABLE orders (
	order_id TEXT NOT NULL, 
	customer_id TEXT, 
	customer_email TEXT, 
	status TEXT, 
	currency TEXT, 
	total TEXT, 
	subtotal TEXT, 
	tax TEXT, 
	shipping TEXT, 
	discount TEXT, 
	refunded TEXT, 
	placed_at TEXT, 
	updated_at TEXT, 
	lines TEXT, 
	store TEXT, 
	coupon_code TEXT, 
	PRIMARY KEY (order_id)
);
CREATE TABLE runs (
	run_id VARCHAR(64) NOT NULL, 
	flow VARCHAR(32) NOT NULL, 
	started_at DATETIME, 
	finished_at DATETIME, 
	status VARCHAR(16), 
	summary TEXT, 
	PRIMARY KEY (run_id)
);
CREATE TABLE suppressions (
	email VARCHAR(512) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	reason TEXT, 
	date_removed DATETIME, 
	recorded_at DATETIME, 
	PRIMARY KEY (email)
);
