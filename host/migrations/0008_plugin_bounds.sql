-- The platform's own events are stored with source '' (no plugin can have an empty name), so the
-- source of an event is who emitted it, never a name a plugin could take. Events a plugin named
-- `crm` emitted before that name was reserved stay attributed to that plugin.
UPDATE plugin_events SET source = '' WHERE source = 'crm' AND NOT EXISTS
    (SELECT 1 FROM plugins p WHERE p.tenant_id = plugin_events.tenant_id AND p.name = 'crm');

-- What each plugin stores (its records), kept with every write so quotas are checked in the
-- write's own transaction. Bytes count the sealed data, 100 per index row and 200 per record.
CREATE TABLE plugin_usage (
    tenant_id TEXT NOT NULL,
    plugin    TEXT NOT NULL,
    bytes     BIGINT NOT NULL,
    records   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, plugin)
);
INSERT INTO plugin_usage (tenant_id, plugin, bytes, records)
SELECT r.tenant_id, r.plugin,
       SUM(length(r.data) + 200 + 100 * (SELECT COUNT(*) FROM plugin_record_index i WHERE i.record_id = r.id)),
       COUNT(*)
FROM plugin_records r GROUP BY r.tenant_id, r.plugin;
