#!/bin/sh
# As the official image's entrypoint: `neo4j` (the default command) serves the
# store on /data, Bolt on the container's loopback; any other command runs as
# given (`neo4j-admin database check neo4j`, `cypher-shell …`). NEO4J_AUTH is
# accepted; the launcher never asks for credentials.
if [ "${1:-neo4j}" = neo4j ]; then
    exec /usr/share/neo4j/bin/neo4j-launcher serve --home /var/lib/neo4j --conf /var/lib/neo4j/conf \
        --data /data --bolt 127.0.0.1:7687
fi
exec "$@"
