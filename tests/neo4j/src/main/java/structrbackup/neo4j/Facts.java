package structrbackup.neo4j;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.neo4j.cli.AdminTool;
import org.neo4j.cli.ExecutionContext;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Transaction;
import org.neo4j.io.ByteUnit;
import org.neo4j.io.fs.DefaultFileSystemAbstraction;
import org.neo4j.kernel.internal.Version;

/**
 * What a store holds, as JSON on stdout. The store format, its recovery state
 * and the last committed transaction come from neo4j-admin's own
 * {@code database info} (StoreInfoCommand: the store's metadata and the
 * transaction log tail). When the store needs no recovery, it is then opened
 * read-only with the embedded DBMS and every node and relationship is read:
 * counts and a checksum (see {@link GraphChecksum}). A store that needs
 * recovery is never opened (opening would recover it): its counts are null.
 * A store this Neo4j cannot read (written by a newer one) gives "error" with
 * Neo4j's own reason, and exit code 1.
 */
final class Facts {
    private Facts() {}

    static int run(Options o) throws Exception {
        Path data = o.requireData();
        ObjectMapper json = new ObjectMapper();
        ObjectNode out = json.createObjectNode();
        out.put("neo4j_version", Version.getNeo4jVersion());
        out.put("database", o.database);

        Path home = Options.scratchHome(data);
        try {
            ByteArrayOutputStream infoOut = new ByteArrayOutputStream();
            ByteArrayOutputStream infoErr = new ByteArrayOutputStream();
            int code;
            try (PrintStream po = new PrintStream(infoOut, true, StandardCharsets.UTF_8);
                    PrintStream pe = new PrintStream(infoErr, true, StandardCharsets.UTF_8)) {
                ExecutionContext ctx = new ExecutionContext(
                        home, home.resolve("conf"), po, pe, new DefaultFileSystemAbstraction());
                code = AdminTool.execute(ctx, "database", "info", "--format=json", o.database);
            }
            if (code != 0) {
                // E.g. a store written by a newer Neo4j: its refusal is the fact.
                out.put("error", "neo4j-admin database info " + o.database + " on " + data + " failed (exit " + code
                        + "): " + (infoErr.toString(StandardCharsets.UTF_8) + infoOut.toString(StandardCharsets.UTF_8))
                                .trim());
                System.out.println(json.writeValueAsString(out));
                return 1;
            }
            var info = json.readTree(infoOut.toString(StandardCharsets.UTF_8).trim());
            out.set("info", info);
            boolean inUse = info.path("inUse").asText().equals("true");
            boolean recovery = info.path("recoveryRequired").asText().equals("true");
            out.put("in_use", inUse);
            out.put("recovery_required", recovery);
            out.put("store_format", info.path("storeFormat").asText(null));
            out.put("store_format_introduced", info.path("storeFormatIntroduced").asText(null));
            out.put("last_committed_transaction", info.path("lastCommittedTransaction").asLong(-1));
            if (!inUse) {
                KernelVersions.put(home, data, o.database, out);
            }

            if (inUse || recovery) {
                out.putNull("nodes");
                out.putNull("relationships");
                out.putNull("properties");
                out.putNull("checksum");
            } else {
                read(home, data, o.database, out);
            }
        } finally {
            Options.removeTree(home);
        }
        System.out.println(json.writeValueAsString(out));
        return 0;
    }

    private static void read(Path home, Path data, String database, ObjectNode out) {
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(GraphDatabaseSettings.data_directory, data)
                .setConfig(GraphDatabaseSettings.read_only_database_default, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(64))
                .setConfig(BoltConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .build();
        try {
            GraphDatabaseService db = dbms.database(database);
            GraphChecksum sum = new GraphChecksum();
            try (Transaction tx = db.beginTx()) {
                tx.getAllNodes().forEach(sum::node);
                tx.getAllRelationships().forEach(sum::relationship);
            }
            out.put("nodes", sum.nodes);
            out.put("relationships", sum.relationships);
            out.put("properties", sum.properties);
            out.put("checksum", sum.hex());
        } finally {
            dbms.shutdown();
        }
    }
}
