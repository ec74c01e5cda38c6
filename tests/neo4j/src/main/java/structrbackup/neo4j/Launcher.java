package structrbackup.neo4j;

import java.util.Arrays;

/**
 * structr-backup's test launcher for a real Neo4j Community (issue 21): the
 * embedded DBMS with Bolt ({@code serve}), the graph's facts ({@code facts}) and
 * Neo4j's own neo4j-admin ({@code admin}). Test support only: it never runs in
 * production.
 */
public final class Launcher {
    private Launcher() {}

    static final String USAGE = String.join(
            "\n",
            "usage: neo4j-launcher <command> [options]",
            "  serve --data DIR [--home DIR] [--conf DIR] [--bolt 127.0.0.1:7687]",
            "      runs Neo4j with Bolt on the address; prints 'Started.' when it serves,",
            "      shuts down cleanly on SIGTERM ('Stopped.')",
            "  facts --data DIR [--database neo4j]",
            "      JSON: store format, recovery state, node/relationship/property counts and",
            "      a checksum of the graph; opens the store read-only, never recovers it",
            "  admin [--data DIR | --home DIR --conf DIR] -- <neo4j-admin arguments>",
            "      Neo4j's own neo4j-admin (e.g. database check neo4j, database info neo4j)",
            "  version");

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println(USAGE);
            System.exit(2);
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        int code;
        try {
            code = switch (args[0]) {
                case "serve" -> Serve.run(Options.parse(rest));
                case "facts" -> Facts.run(Options.parse(rest));
                case "admin" -> Admin.run(Options.parse(rest));
                case "version" -> {
                    System.out.println(org.neo4j.kernel.internal.Version.getNeo4jVersion());
                    yield 0;
                }
                default -> {
                    System.err.println("neo4j-launcher: unknown command '" + args[0] + "'\n" + USAGE);
                    yield 2;
                }
            };
        } catch (Options.UsageError e) {
            System.err.println("neo4j-launcher: " + e.getMessage() + "\n" + USAGE);
            code = 2;
        } catch (Exception e) {
            System.err.println("neo4j-launcher " + args[0] + ": " + e);
            e.printStackTrace(System.err);
            code = 1;
        }
        System.out.flush();
        System.exit(code);
    }
}
