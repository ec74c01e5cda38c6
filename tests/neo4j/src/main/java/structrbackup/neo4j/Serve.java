package structrbackup.neo4j;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;
import org.neo4j.kernel.internal.Version;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * The embedded DBMS on a data folder laid out as Neo4j lays it out
 * (server.directories.data: databases/neo4j, databases/system,
 * transactions/..., databases/store_lock), Bolt on a loopback address.
 * SIGTERM shuts it down cleanly through a shutdown hook, as neo4j.service's
 * stop does; SIGKILL leaves what a killed Neo4j leaves.
 */
final class Serve {
    private Serve() {}

    static int run(Options o) throws Exception {
        Path data = o.requireData();
        Path home = o.home != null ? o.home : data.getParent();
        SocketAddress bolt = new SocketAddress(host(o.bolt), port(o.bolt));
        Files.createDirectories(data);

        var builder = new DatabaseManagementServiceBuilder(home)
                // Defaults for a test machine; neo4j.conf in --conf may change them.
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(128))
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                // No usage reports to neo4j.com from a test machine.
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .setConfig(GraphDatabaseSettings.default_listen_address, new SocketAddress("127.0.0.1"))
                .setUserLogProvider(new Log4jLogProvider(System.out, Level.INFO));
        if (o.conf != null) {
            builder.loadPropertiesFromFile(o.conf.resolve("neo4j.conf"));
        }
        // What the command line names wins over the file.
        builder.setConfig(GraphDatabaseSettings.data_directory, data)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, bolt)
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED);

        AtomicReference<DatabaseManagementService> dbms = new AtomicReference<>();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            DatabaseManagementService running = dbms.get();
            if (running != null) {
                say("Stopping...");
                int code = 0;
                try {
                    running.shutdown();
                    say("Stopped.");
                } catch (RuntimeException e) {
                    System.err.println("neo4j-launcher: the shutdown failed: " + e);
                    e.printStackTrace(System.err);
                    code = 1;
                }
                System.err.flush();
                // A clean stop exits 0 (not the JVM's 143 for SIGTERM), so a
                // service manager sees a clean stop; a failed one exits 1.
                Runtime.getRuntime().halt(code);
            }
        }, "neo4j-launcher-shutdown"));

        say("Starting Neo4j " + Version.getNeo4jVersion() + " on " + data + " (home " + home + ")");
        DatabaseManagementService started = builder.build();
        dbms.set(started);
        waitForBolt(bolt);
        say("Bolt enabled on " + bolt + ".");
        say("Started.");
        // Runs until a signal: the shutdown hook does the rest.
        new CountDownLatch(1).await();
        return 0;
    }

    static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static String host(String address) throws Options.UsageError {
        int colon = address.lastIndexOf(':');
        if (colon <= 0) {
            throw new Options.UsageError("--bolt wants HOST:PORT, got '" + address + "'");
        }
        return address.substring(0, colon);
    }

    private static int port(String address) throws Options.UsageError {
        try {
            return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
        } catch (NumberFormatException e) {
            throw new Options.UsageError("--bolt wants HOST:PORT, got '" + address + "'");
        }
    }

    /** build() returns once every component started; this proves Bolt accepts. */
    private static void waitForBolt(SocketAddress bolt) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        IOException last = null;
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(bolt.getHostname(), bolt.getPort()), 1000);
                return;
            } catch (IOException e) {
                last = e;
                Thread.sleep(50);
            }
        }
        throw new IOException("Bolt does not accept connections on " + bolt, last);
    }
}
