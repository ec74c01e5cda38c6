#!/bin/sh
# Stand-in Structr for the Docker tests (busybox sh, PID 1 of its container):
# writes files into files/<c0>/<c1>/<c2>/<c3>/<id> and records each id in the
# stand-in Neo4j through /ipc, deleting some; an operation is finished before a
# SIGTERM is honoured, so with both stopped: ids in the store == files.
stop=0
trap 'stop=1' TERM INT
F=/var/lib/structr/files
L=/var/lib/structr/logs/server.log
mkdir -p $F /var/lib/structr/logs /ipc/req

# Sends a request and waits for the stand-in Neo4j to apply it; gives up (and
# says so with status 1) only when told to stop and Neo4j does not answer.
request() {
    echo > /ipc/req/.$1.tmp && mv /ipc/req/.$1.tmp /ipc/req/$1
    waited=0
    while [ -e /ipc/req/$1 ]; do
        sleep 0.02
        waited=$((waited + 1))
        if [ $stop = 1 ] && [ $waited -gt 150 ]; then rm -f /ipc/req/$1; return 1; fi
    done
}

n=0
echo "$(date) structr stand-in started" >> $L
while [ $stop = 0 ]; do
    n=$((n + 1))
    if [ $((n % 4)) = 0 ]; then
        f=$(find $F -type f ! -name '.*' | head -n 1)
        if [ -n "$f" ]; then
            id=${f##*/}
            request $id.delete || break
            rm -f "$f"
            echo "$(date) deleted $id" >> $L
        fi
    else
        id=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
        d=$F/$(echo $id | cut -c1)/$(echo $id | cut -c2)/$(echo $id | cut -c3)/$(echo $id | cut -c4)
        mkdir -p $d
        head -c $((1024 + n % 7 * 1000)) /dev/urandom > $d/.$id.tmp && mv $d/.$id.tmp $d/$id
        if ! request $id.create; then rm -f $d/$id; break; fi
        echo "$(date) created $id" >> $L
    fi
    sleep 0.05
done
echo "$(date) structr stand-in stopped" >> $L
