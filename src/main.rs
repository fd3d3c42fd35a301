fn main() {
    println!("billrun");
}
