-- Which merge committed last: every merge that writes records a row (contract rule 9).
SELECT max(id) FROM hf_sync_applied_listings
