package structrbackup.neo4j;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import org.neo4j.configuration.Config;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.io.fs.DefaultFileSystemAbstraction;
import org.neo4j.io.layout.Neo4jLayout;
import org.neo4j.kernel.KernelVersion;
import org.neo4j.kernel.database.DatabaseTracers;
import org.neo4j.kernel.recovery.LogTailExtractor;
import org.neo4j.memory.EmptyMemoryTracker;
import org.neo4j.storageengine.api.StorageEngineFactory;

/**
 * The second half of "which Neo4j wrote this store". The store format
 * (neostore's store id: engine, family, major.minor, e.g. record-aligned-1.1)
 * stays the same across many releases (5.26 and 2025.x Community both write
 * record-aligned-1.1); what an older Neo4j refuses is the kernel version each
 * transaction log entry and checkpoint carries. This reads it from the log tail,
 * as neo4j-admin database info does, beside the newest one these binaries know.
 */
final class KernelVersions {
    private KernelVersions() {}

    static void put(Path home, Path data, String database, ObjectNode out) throws Exception {
        Config config = Config.newBuilder()
                .set(GraphDatabaseSettings.neo4j_home, home)
                .set(GraphDatabaseSettings.data_directory, data)
                .build();
        var layout = Neo4jLayout.of(config).databaseLayout(database);
        try (var fs = new DefaultFileSystemAbstraction()) {
            var engine = StorageEngineFactory.selectStorageEngine(fs, layout).orElseThrow();
            var tail = new LogTailExtractor(fs, config, engine, DatabaseTracers.EMPTY)
                    .getTailMetadata(layout, EmptyMemoryTracker.INSTANCE);
            KernelVersion store = tail.kernelVersion();
            out.put("kernel_version", store.name());
            out.put("kernel_version_number", store.version());
        }
        KernelVersion latest = KernelVersion.getLatestVersion(config);
        out.put("binaries_kernel_version", latest.name());
        out.put("binaries_kernel_version_number", latest.version());
    }
}
