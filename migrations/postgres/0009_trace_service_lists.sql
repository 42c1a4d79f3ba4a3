-- A trace's services become one text of its summary row (`traces.services`,
-- see `rows::service_list`): each span no longer adds a row to
-- `trace_services` and entries to its two indexes. A search by service
-- reads the list of each trace of its window instead of an index.
ALTER TABLE traces ADD COLUMN services TEXT NOT NULL DEFAULT '';
UPDATE traces t SET services = lists.services
FROM (SELECT trace_id, chr(31) || string_agg(name, chr(31) ORDER BY name) || chr(31) AS services
      FROM (SELECT DISTINCT trace_id, replace(service, chr(31), chr(65533)) COLLATE "C" AS name
            FROM trace_services WHERE service <> '') AS names
      GROUP BY trace_id) AS lists
WHERE lists.trace_id = t.trace_id;
DROP TABLE trace_services;
