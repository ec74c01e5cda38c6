package structrbackup.neo4j;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The few options the commands take, and the folders they name. */
final class Options {
    Path data;
    Path home;
    Path conf;
    String bolt = "127.0.0.1:7687";
    String database = "neo4j";
    /** What follows {@code --}: neo4j-admin's own arguments. */
    final List<String> rest = new ArrayList<>();

    static final class UsageError extends Exception {
        UsageError(String message) {
            super(message);
        }
    }

    static Options parse(String[] args) throws UsageError {
        Options o = new Options();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--")) {
                o.rest.addAll(List.of(args).subList(i + 1, args.length));
                break;
            }
            if (i + 1 >= args.length) {
                throw new UsageError("option " + a + " needs a value");
            }
            String v = args[++i];
            switch (a) {
                case "--data" -> o.data = Path.of(v).toAbsolutePath().normalize();
                case "--home" -> o.home = Path.of(v).toAbsolutePath().normalize();
                case "--conf" -> o.conf = Path.of(v).toAbsolutePath().normalize();
                case "--bolt" -> o.bolt = v;
                case "--database" -> o.database = v;
                default -> throw new UsageError("unknown option " + a);
            }
        }
        return o;
    }

    Path requireData() throws UsageError {
        if (data == null) {
            throw new UsageError("--data DIR is required (Neo4j's server.directories.data)");
        }
        return data;
    }

    /**
     * A throwaway NEO4J_HOME with conf/neo4j.conf naming {@code data} as
     * server.directories.data, for commands run on a folder that has no
     * configuration of its own (a backup copy, a restored generation).
     */
    static Path scratchHome(Path data) throws IOException {
        Path home = Files.createTempDirectory("neo4j-launcher-");
        Path conf = home.resolve("conf");
        Files.createDirectories(conf);
        Files.writeString(
                conf.resolve("neo4j.conf"),
                "server.directories.data=" + data + "\n",
                StandardCharsets.UTF_8);
        return home;
    }

    static void removeTree(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    System.err.println("neo4j-launcher: could not remove " + p + ": " + e.getMessage());
                }
            });
        } catch (IOException e) {
            System.err.println("neo4j-launcher: could not remove " + dir + ": " + e.getMessage());
        }
    }
}
