//! Stand-in Neo4j and Structr services for the tests and the demo.

fn main() {
    std::process::exit(structr_backup::standin::main(std::env::args_os().collect()));
}
