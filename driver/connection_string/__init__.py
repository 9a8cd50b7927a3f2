"""Connection strings (connection-string, uri-options, initial-dns-seedlist-discovery specs).

``parse``: splitting ``mongodb[+srv]://`` into its parts; ``options_table``: every option
with its aliases, type and validator; ``uri``: ``parse_uri`` / ``ConnectionString`` both
ways; ``client_options``: the merged, validated options of one ``MongoClient``; ``srv``:
SRV/TXT look-ups and SRV polling (polling-srv-records-for-mongos-discovery spec).
"""
