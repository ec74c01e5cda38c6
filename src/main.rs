fn main() {
    println!("structr-backup");
}
