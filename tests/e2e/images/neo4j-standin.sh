#!/bin/sh
# Stand-in Neo4j for the Docker tests (busybox sh, PID 1 of its container):
# applies the Structr stand-in's requests from /ipc/req to a node store on /data,
# like a database would, and exits promptly on SIGTERM after the request in hand.
# As the official image's entrypoint, a command other than `neo4j` runs as given
# (a drill asks for `neo4j-admin`, which the stand-in does not have).
if [ $# -gt 0 ] && [ "$1" != neo4j ]; then exec "$@"; fi
stop=0
trap 'stop=1' TERM INT
D=/data
mkdir -p $D/databases/neo4j $D/databases/system $D/transactions/neo4j $D/dbms /ipc/req /logs
[ -f $D/server_id ] || echo "standin-$(date +%s)" > $D/server_id
[ -f $D/databases/neo4j/neostore.nodestore.db ] || dd if=/dev/urandom of=$D/databases/neo4j/neostore.nodestore.db bs=1024 count=2048 2>/dev/null
touch $D/databases/store_lock $D/databases/neo4j/nodes
echo "$(date) neo4j stand-in started" >> /logs/neo4j.log
# Neo4j prints this line once it serves (what a restore drill waits for).
echo "$(date -u +%Y-%m-%d\ %H:%M:%S.000+0000) INFO  Started."
while [ $stop = 0 ]; do
    for r in /ipc/req/*.create /ipc/req/*.delete; do
        [ -e "$r" ] || continue
        name=${r##*/}
        op=${name##*.}
        id=${name%.*}
        if [ "$op" = create ]; then
            grep -q -x "$id" $D/databases/neo4j/nodes || echo "$id" >> $D/databases/neo4j/nodes
        else
            grep -v -x "$id" $D/databases/neo4j/nodes > $D/databases/neo4j/nodes.tmp
            mv $D/databases/neo4j/nodes.tmp $D/databases/neo4j/nodes
        fi
        echo "$op $id" >> $D/transactions/neo4j/neostore.transaction.db.0
        rm -f "$r"
    done
    sleep 0.05
done
echo "$(date) neo4j stand-in stopped" >> /logs/neo4j.log
