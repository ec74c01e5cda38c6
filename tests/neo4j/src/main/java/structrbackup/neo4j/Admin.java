package structrbackup.neo4j;

import java.nio.file.Path;
import org.neo4j.cli.AdminTool;
import org.neo4j.cli.ExecutionContext;

/**
 * Neo4j's own neo4j-admin (org.neo4j.cli.AdminTool, with the commands its jars
 * provide: database check/info/dump/load, ...), run on a data folder. With
 * --data it gets a throwaway configuration naming that folder, so a copy that
 * has no neo4j.conf of its own can be checked.
 */
final class Admin {
    private Admin() {}

    static int run(Options o) throws Exception {
        if (o.data == null) {
            if (o.home == null || o.conf == null) {
                throw new Options.UsageError("admin needs --data DIR, or --home DIR and --conf DIR");
            }
            return AdminTool.execute(new ExecutionContext(o.home, o.conf), o.rest.toArray(String[]::new));
        }
        Path home = Options.scratchHome(o.data);
        try {
            return AdminTool.execute(
                    new ExecutionContext(home, home.resolve("conf")), o.rest.toArray(String[]::new));
        } finally {
            Options.removeTree(home);
        }
    }
}
