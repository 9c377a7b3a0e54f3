DROP TABLE search_backfill;
