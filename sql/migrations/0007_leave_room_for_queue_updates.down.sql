-- 0007 leave_room_for_queue_updates, reverted: pages are filled whole again.
ALTER TABLE IF EXISTS enterprise.enrichment_requests RESET (fillfactor);
