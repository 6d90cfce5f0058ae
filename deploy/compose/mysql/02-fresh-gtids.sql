-- Every server ran the same set-up statements, each under its own server_uuid. Forget
-- those transactions so that a replica and its primary start from the same data and an empty
-- GTID set; with SOURCE_AUTO_POSITION the replica then receives exactly what the primary
-- writes from now on (and no set-up statement twice).
RESET BINARY LOGS AND GTIDS;
