package structrbackup.neo4j;

import java.lang.reflect.Array;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.neo4j.graphdb.Entity;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.Relationship;

/**
 * A checksum of a whole graph that does not depend on the order Neo4j returns
 * nodes and relationships in: each one is written canonically (its id, labels or
 * type and end points, its properties sorted by key, each value with its type)
 * and hashed with SHA-256, and the hashes are added modulo 2^256. Ids are part of
 * it on purpose: a restored store must be the same store, not an equal graph.
 */
final class GraphChecksum {
    long nodes;
    long relationships;
    long properties;
    /** The sum, as four 64-bit limbs, most significant first. */
    private final long[] limbs = new long[4];
    private final MessageDigest sha256;

    GraphChecksum() {
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    @SuppressWarnings("deprecation") // getId(): the store's own record id, what a copy must keep
    void node(Node n) {
        nodes++;
        List<String> labels = new ArrayList<>();
        for (Label l : n.getLabels()) {
            labels.add(l.name());
        }
        labels.sort(null);
        add("node " + n.getId() + " " + labels + " " + props(n));
    }

    @SuppressWarnings("deprecation")
    void relationship(Relationship r) {
        relationships++;
        add("rel " + r.getId() + " " + r.getStartNode().getId() + "-[" + r.getType().name() + "]->"
                + r.getEndNode().getId() + " " + props(r));
    }

    private String props(Entity e) {
        Map<String, Object> sorted = new TreeMap<>(e.getAllProperties());
        properties += sorted.size();
        StringBuilder b = new StringBuilder("{");
        sorted.forEach((k, v) -> b.append(k.length()).append(':').append(k).append('=').append(value(v)).append(';'));
        return b.append('}').toString();
    }

    /** Type and value; strings length-prefixed so no value can imitate another. */
    private static String value(Object v) {
        if (v.getClass().isArray()) {
            StringBuilder b = new StringBuilder(v.getClass().getComponentType().getSimpleName()).append("[");
            for (int i = 0; i < Array.getLength(v); i++) {
                b.append(value(Array.get(v, i))).append(',');
            }
            return b.append(']').toString();
        }
        String s = v.toString();
        return v.getClass().getSimpleName() + "(" + s.length() + ":" + s + ")";
    }

    private void add(String canonical) {
        byte[] d = sha256.digest(canonical.getBytes(StandardCharsets.UTF_8));
        long carry = 0;
        for (int limb = 3; limb >= 0; limb--) {
            long part = 0;
            for (int i = 0; i < 8; i++) {
                part = (part << 8) | (d[limb * 8 + i] & 0xff);
            }
            long before = limbs[limb];
            long sum = before + part + carry;
            // Unsigned overflow: the sum wrapped past 2^64.
            carry = (Long.compareUnsigned(sum, before) < 0 || (carry == 1 && sum == before)) ? 1 : 0;
            limbs[limb] = sum;
        }
    }

    String hex() {
        StringBuilder b = new StringBuilder();
        for (long l : limbs) {
            b.append(String.format("%016x", l));
        }
        return b.toString();
    }
}
